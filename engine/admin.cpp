#include "engine/admin.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <set>

#include "engine/json_writer.hpp"
#include "engine/model_api.hpp"
#include "engine/tap.hpp"

namespace socstream {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

// Compares without leaking, through timing, how much of the token was right
// (its length is no secret worth the trouble).
bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// One query parameter's value, not percent-decoded: the values are component
// and port names (letters, digits, '_', '-' and the '.' before a port) and numbers.
std::string query_param(std::string_view target, std::string_view key) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

uint64_t number_param(std::string_view target, std::string_view key, uint64_t dflt, uint64_t max) {
  const std::string v = query_param(target, key);
  uint64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) return dflt;
  return std::min(n, max);
}

std::string error_json(std::string_view message) {
  std::string out = "{\"error\":";
  json::append_string(out, message);
  out += '}';
  return out;
}

std::string ready_json(const Runtime* rt, bool& all_ready) {
  std::string waiting, why;
  all_ready = rt != nullptr;
  if (rt)
    for (const auto& c : rt->status()) {
      if (c.ready) continue;
      all_ready = false;
      if (!waiting.empty()) waiting += ',';
      json::append_string(waiting, c.name);
      if (!why.empty()) why += ',';
      json::append_string(why, c.name);
      why += ':';
      json::append_string(why, !c.open ? "not open" : c.why.empty() ? "not ready" : c.why);
    }
  return fmt::format(R"({{"ready":{},"not_ready":[{}],"why":{{{}}}}})", all_ready ? "true" : "false", waiting, why);
}

std::string status_json(const Service& service) {
  auto gen = service.current();
  std::string out = fmt::format(R"({{"generation":{},"uptime_seconds":{:.3f},"components":[)", gen ? gen->number : 0,
                                service.uptime_seconds());
  if (gen && gen->runtime) {
    bool first = true;
    for (const auto& c : gen->runtime->status()) {
      if (!first) out += ',';
      first = false;
      const Node* n = gen->topology->find(c.name);
      out += "{\"name\":";
      json::append_string(out, c.name);
      out += fmt::format(R"(,"kind":"{}","type":)", kind_name(c.kind));
      json::append_string(out, n && n->spec ? n->spec->type : "");
      out += fmt::format(R"(,"received":{},"queued":{},"capacity":{},"pending":{},"open":{},"ready":{},"sent":{{)",
                         c.received, c.queued, n ? n->buffer_events : 0, c.pending, c.open ? "true" : "false",
                         c.ready ? "true" : "false");
      for (size_t i = 0; i < c.sent.size(); ++i) {
        if (i) out += ',';
        json::append_string(out, c.sent[i].first.empty() ? "default" : c.sent[i].first);
        out += ':' + std::to_string(c.sent[i].second);
      }
      out += "}}";
    }
  }
  out += "]}";
  return out;
}

}  // namespace

bool loopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = net::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

struct AdminServer::Impl {
  Service& service;
  AdminOptions options;
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
  std::thread thread;
  // Requests are served on threads of their own (a reload or a tap waits
  // seconds; a scrape must not queue behind it), a few at a time.
  static constexpr int kMaxConnections = 8;
  std::mutex m;
  std::condition_variable idle;
  int active = 0;
  std::set<int> open_fds;  // the connections being served, cut at shutdown

  Impl(Service& s, AdminOptions o) : service(s), options(std::move(o)) {}

  struct Reply {
    http::status status = http::status::ok;
    std::string type = "application/json";
    std::string body;
  };

  Reply route(http::verb method, std::string_view target, const std::string& body) {
    const std::string_view path = target.substr(0, target.find('?'));
    auto gen = service.current();
    const Runtime* rt = gen ? gen->runtime.get() : nullptr;
    auto only = [&](http::verb v) { return method == v; };
    if (path.substr(0, 8) == "/api/ml/" || path == "/api/ml") {
      auto r = model_api(*gen, method == http::verb::get ? "GET" : method == http::verb::put ? "PUT"
                                                                : method == http::verb::post ? "POST" : "OTHER",
                         path, body);
      return Reply{static_cast<http::status>(r.status), "application/json", std::move(r.body)};
    }
    if (path == "/api/reload") {
      if (!only(http::verb::post)) return {http::status::method_not_allowed, "application/json", error_json("POST only")};
      auto r = service.reload("POST /api/reload");
      std::string out = fmt::format(R"({{"ok":{},"generation":{},"summary":)", r.ok ? "true" : "false", r.generation);
      json::append_string(out, r.summary);
      out += ",\"errors\":[";
      for (size_t i = 0; i < r.errors.size(); ++i) {
        if (i) out += ',';
        json::append_string(out, r.errors[i]);
      }
      out += "]}";
      return {r.ok ? http::status::ok : http::status::unprocessable_entity, "application/json", std::move(out)};
    }
    if (!only(http::verb::get)) return {http::status::method_not_allowed, "application/json", error_json("GET only here")};
    if (path == "/health") return {http::status::ok, "application/json", R"({"status":"ok"})"};
    if (path == "/ready") {
      bool ok = false;
      std::string b = ready_json(rt, ok);
      return {ok ? http::status::ok : http::status::service_unavailable, "application/json", std::move(b)};
    }
    if (path == "/metrics") return {http::status::ok, "text/plain; version=0.0.4", service.metrics().prometheus_text()};
    if (path == "/api/status") return {http::status::ok, "application/json", status_json(service)};
    if (path == "/api/tap") return tap(gen, target);
    return {http::status::not_found, "application/json",
            error_json("no such endpoint (/health, /ready, /metrics, /api/status, /api/tap, /api/reload, /api/ml/...)")};
  }

  Reply tap(const std::shared_ptr<Generation>& gen, std::string_view target) {
    const std::string spec = query_param(target, "component");
    if (spec.empty()) return {http::status::bad_request, "application/json", error_json("component=NAME[.PORT] is required")};
    const size_t dot = spec.find('.');
    const std::string component = spec.substr(0, dot);
    const std::string port = dot == std::string::npos ? "" : spec.substr(dot + 1);
    const size_t limit = number_param(target, "limit", 10, 10000);
    const uint64_t timeout_ms = number_param(target, "timeout_ms", 5000, 60000);
    if (!gen || !gen->runtime) return {http::status::service_unavailable, "application/json", error_json("not running")};
    Tap t(limit);
    if (!gen->runtime->attach_tap(component, port, &t)) {
      const Node* n = gen->topology->find(component);
      std::string ports;
      if (n)
        for (const auto& p : n->ports) ports += (ports.empty() ? "" : ", ") + (p.empty() ? n->name : n->name + "." + p);
      return {http::status::not_found, "application/json",
              error_json(n ? "'" + component + "' has no port '" + port + "'; its ports: " + ports
                           : "no component '" + component + "'")};
    }
    auto lines = t.wait(std::chrono::milliseconds(timeout_ms), &stopping);
    gen->runtime->detach_tap(&t);
    std::string out;
    for (auto& l : lines) {
      out += l;
      out += '\n';
    }
    return {http::status::ok, "application/x-ndjson", std::move(out)};
  }

  http::response<http::string_body> answer(const http::request<http::string_body>& req) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.keep_alive(false);
    Reply r;
    if (!options.token.empty()) {
      const auto auth = req[http::field::authorization];
      const std::string_view given(auth.data(), auth.size());
      if (given.substr(0, 7) != "Bearer " || !same(given.substr(7), options.token)) {
        r = {http::status::unauthorized, "application/json", R"({"error":"a bearer token is required"})"};
        res.set(http::field::www_authenticate, "Bearer");
      }
    }
    if (r.status == http::status::ok) {
      try {
        r = route(req.method(), std::string_view(req.target().data(), req.target().size()), req.body());
      } catch (const std::exception& e) {
        r = {http::status::internal_server_error, "application/json", error_json(e.what())};
      }
    }
    res.result(r.status);
    res.set(http::field::content_type, r.type);
    res.body() = std::move(r.body);
    res.prepare_payload();
    return res;
  }

  // One request a connection, on the connection's own io_context: Beast's
  // timers bound the read and the write (socket timeouts do not: Asio's
  // synchronous reads wait in poll() without one), so a client that stalls
  // is cut off after 10 s and never holds a handler, or the shutdown.
  void handle(std::shared_ptr<net::io_context> ioc, tcp::socket socket) {
    const int fd = socket.native_handle();
    {
      std::lock_guard lk(m);
      open_fds.insert(fd);
    }
    boost::beast::tcp_stream stream(std::move(socket));
    boost::beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(1024 * 1024);
    boost::system::error_code ec;
    stream.expires_after(std::chrono::seconds(10));
    http::async_read(stream, buffer, parser, [&](boost::system::error_code e, size_t) { ec = e; });
    ioc->run();
    if (!ec && !stopping.load()) {
      auto res = answer(parser.get());
      ioc->restart();
      stream.expires_after(std::chrono::seconds(10));
      http::async_write(stream, res, [&](boost::system::error_code e, size_t) { ec = e; });
      ioc->run();
    }
    {
      std::lock_guard lk(m);
      open_fds.erase(fd);
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  void serve() {
    while (!stopping.load()) {
      auto ioc = std::make_shared<net::io_context>();
      tcp::socket socket(*ioc);
      boost::system::error_code ec;
      acceptor.accept(socket, ec);
      if (ec || stopping.load()) continue;
      std::unique_lock lk(m);
      if (active >= kMaxConnections) {
        lk.unlock();
        // Non-blocking: a client that does not read cannot hold the accept loop either.
        socket.non_blocking(true, ec);
        http::response<http::string_body> res{http::status::service_unavailable, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = R"({"error":"too many requests at once"})";
        res.prepare_payload();
        http::write(socket, res, ec);
        continue;
      }
      ++active;
      lk.unlock();
      std::thread([this, ioc, s = std::move(socket)]() mutable {
        handle(ioc, std::move(s));
        std::lock_guard g(m);
        if (--active == 0) idle.notify_all();
      }).detach();
    }
  }
};

AdminServer::AdminServer(Service& service, AdminOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {
  const auto& o = impl_->options;
  tcp::endpoint at(net::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host), o.port);
  impl_->acceptor.open(at.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(at);
  impl_->acceptor.listen();
  spdlog::info("admin: serving /health, /ready, /metrics and /api on http://{}:{}{}", o.host,
               impl_->acceptor.local_endpoint().port(), o.token.empty() ? "" : " (bearer token required)");
  impl_->thread = std::thread([this] { impl_->serve(); });
}

uint16_t AdminServer::port() const { return impl_->acceptor.local_endpoint().port(); }

AdminServer::~AdminServer() {
  impl_->stopping.store(true);
  // Unblocks accept() on the server's thread.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->thread.joinable()) impl_->thread.join();
  // Handlers still running hold the service: their connections are cut, a
  // tap's wait ends on `stopping`, a reload's once the service answers it.
  std::unique_lock lk(impl_->m);
  for (int fd : impl_->open_fds) ::shutdown(fd, SHUT_RDWR);
  impl_->idle.wait(lk, [&] { return impl_->active == 0; });
}

}  // namespace socstream
