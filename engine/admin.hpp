#pragma once
// The admin HTTP endpoint (Boost.Beast), off unless the topology's `admin:`
// or `--admin HOST:PORT` asks for it (docs/api.md has every endpoint):
//   GET  /health        200 while the process runs
//   GET  /ready         200 when every component is open and ready (Kafka
//                       partitions assigned, sinks connected), else 503 naming
//                       those that are not and why
//   GET  /metrics       Prometheus text (engine/metrics.hpp)
//   GET  /api/status    the components' figures as JSON (socstream top)
//   GET  /api/tap       a sample of a port's events as JSON lines (socstream tap)
//   POST /api/reload    a hot reload; answers when it is done or refused
//   /api/ml/...         the models the topology serves
// It binds to loopback unless told otherwise, and beyond loopback it needs a
// bearer token (from the environment variable `token_env`): the figures say
// what an attacker would like to know about the pipeline, and reload and
// the model API change it.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "engine/service.hpp"

namespace socstream {

struct AdminOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string token;  // empty: none asked
};

// Whether host names this machine's loopback only.
bool loopback(const std::string& host);

class AdminServer {
 public:
  // Binds at once (a port in use is an error here, not later) and serves on threads of its own.
  AdminServer(Service& service, AdminOptions options);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace socstream
