#include "engine/admin.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>

#include "engine/json_writer.hpp"

namespace socstream {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

// A label value as the exposition format wants it: backslash, quote and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? 'n' : c;
  }
  return out;
}

// Compares without leaking, through timing, how much of the token was right
// (its length is no secret worth the trouble).
bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

bool loopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = net::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

std::string prometheus_text(const Runtime& rt) {
  const auto components = rt.status();
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto id = [](const Runtime::ComponentStatus& c) {
    return fmt::format("component_id=\"{}\",component_kind=\"{}\"", label(c.name), kind_name(c.kind));
  };
  family("socstream_component_received_events_total", "counter", "Events a component took from its input.");
  for (const auto& c : components)
    if (c.kind != Kind::Source) out += fmt::format("socstream_component_received_events_total{{{}}} {}\n", id(c), c.received);
  family("socstream_component_sent_events_total", "counter", "Events a component sent, per output port (dlq: dead letters).");
  for (const auto& c : components)
    for (const auto& [port, n] : c.sent)
      out += fmt::format("socstream_component_sent_events_total{{{},output=\"{}\"}} {}\n", id(c),
                         port.empty() ? "default" : label(port), n);
  family("socstream_component_queued_events", "gauge", "Events waiting in a component's input channel.");
  for (const auto& c : components)
    if (c.kind != Kind::Source) out += fmt::format("socstream_component_queued_events{{{}}} {}\n", id(c), c.queued);
  family("socstream_source_unacknowledged_events", "gauge", "Events a source read whose batches are not done yet.");
  for (const auto& c : components)
    if (c.kind == Kind::Source) out += fmt::format("socstream_source_unacknowledged_events{{{}}} {}\n", id(c), c.pending);
  family("socstream_component_open", "gauge", "1 once every instance of the component has opened, 0 before or after a failure.");
  for (const auto& c : components) out += fmt::format("socstream_component_open{{{}}} {}\n", id(c), c.open ? 1 : 0);
  family("socstream_uptime_seconds", "gauge", "Seconds since the topology started.");
  out += fmt::format("socstream_uptime_seconds {:.3f}\n", rt.uptime_seconds());
  return out;
}

struct AdminServer::Impl {
  const Runtime& rt;
  AdminOptions options;
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
  std::thread thread;

  Impl(const Runtime& r, AdminOptions o) : rt(r), options(std::move(o)) {}

  http::response<http::string_body> answer(const http::request<http::string_body>& req) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.keep_alive(false);
    auto reply = [&](http::status s, std::string type, std::string body) {
      res.result(s);
      res.set(http::field::content_type, type);
      res.body() = std::move(body);
    };
    if (!options.token.empty()) {
      const auto auth = req[http::field::authorization];
      const std::string_view given(auth.data(), auth.size());
      if (given.substr(0, 7) != "Bearer " || !same(given.substr(7), options.token)) {
        reply(http::status::unauthorized, "application/json", R"({"error":"a bearer token is required"})");
        res.set(http::field::www_authenticate, "Bearer");
        return res;
      }
    }
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get) {
      reply(http::status::method_not_allowed, "application/json", R"({"error":"only GET is served here"})");
    } else if (path == "/health") {
      reply(http::status::ok, "application/json", R"({"status":"ok"})");
    } else if (path == "/ready") {
      std::string waiting;
      for (const auto& c : rt.status())
        if (!c.open) {
          if (!waiting.empty()) waiting += ',';
          json::append_string(waiting, c.name);
        }
      reply(waiting.empty() ? http::status::ok : http::status::service_unavailable, "application/json",
            fmt::format(R"({{"ready":{},"not_ready":[{}]}})", waiting.empty() ? "true" : "false", waiting));
    } else if (path == "/metrics") {
      reply(http::status::ok, "text/plain; version=0.0.4", prometheus_text(rt));
    } else {
      reply(http::status::not_found, "application/json", R"x({"error":"no such endpoint (/health, /ready, /metrics)"})x");
    }
    res.prepare_payload();
    return res;
  }

  void serve() {
    while (!stopping.load()) {
      tcp::socket socket(io);
      boost::system::error_code ec;
      acceptor.accept(socket, ec);
      if (ec) continue;
      // One request a connection, a client that stalls is cut off: the loop serves one at a time.
      timeval tv{2, 0};
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      boost::beast::flat_buffer buffer;
      http::request_parser<http::string_body> parser;
      parser.header_limit(8 * 1024);
      parser.body_limit(64 * 1024);
      http::read(socket, buffer, parser, ec);
      if (ec) continue;
      auto res = answer(parser.get());
      http::write(socket, res, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }
};

AdminServer::AdminServer(const Runtime& rt, AdminOptions options) : impl_(std::make_unique<Impl>(rt, std::move(options))) {
  const auto& o = impl_->options;
  tcp::endpoint at(net::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host), o.port);
  impl_->acceptor.open(at.protocol());
  impl_->acceptor.set_option(net::socket_base::reuse_address(true));
  impl_->acceptor.bind(at);
  impl_->acceptor.listen();
  spdlog::info("admin: serving /health, /ready and /metrics on http://{}:{}{}", o.host, impl_->acceptor.local_endpoint().port(),
               o.token.empty() ? "" : " (bearer token required)");
  impl_->thread = std::thread([this] { impl_->serve(); });
}

AdminServer::~AdminServer() {
  impl_->stopping.store(true);
  // Unblocks accept() on the server's thread.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace socstream
