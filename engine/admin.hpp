#pragma once
// The admin HTTP endpoint (Boost.Beast), off unless the topology's `admin:`
// or `--admin HOST:PORT` asks for it:
//   GET /health   200 while the process runs
//   GET /ready    200 when every component has opened, else 503 naming those that have not
//   GET /metrics  Prometheus text: per component events received, sent per port,
//                 queued in its input, sources' events not yet acknowledged, uptime
// It binds to loopback unless told otherwise, and beyond loopback it needs a
// bearer token (from the environment variable `token_env`): the figures say
// what an attacker would like to know about the pipeline.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "engine/runtime.hpp"

namespace socstream {

struct AdminOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string token;  // empty: none asked
};

// The /metrics body.
std::string prometheus_text(const Runtime& rt);
// Whether host names this machine's loopback only.
bool loopback(const std::string& host);

class AdminServer {
 public:
  // Binds at once (a port in use is an error here, not later) and serves on a thread of its own.
  AdminServer(const Runtime& rt, AdminOptions options);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace socstream
