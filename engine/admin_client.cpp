#include "engine/admin_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace socstream {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// The endpoint's {"error": "..."}, or the body itself when it is something else.
std::string error_text(const std::string& body) {
  simdjson::dom::parser p;
  auto doc = p.parse(body);
  std::string_view e;
  if (!doc.error() && doc["error"].get(e) == simdjson::SUCCESS) return std::string(e);
  std::string b = body.substr(0, 200);
  while (!b.empty() && std::isspace(static_cast<unsigned char>(b.back()))) b.pop_back();
  return b;
}

}  // namespace

std::string AdminAddress::text() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

AdminAddress parse_admin_address(std::string_view text) {
  std::string_view t = text;
  if (t.substr(0, 7) == "http://") t.remove_prefix(7);
  if (!t.empty() && t.back() == '/') t.remove_suffix(1);
  const auto bad = [&] {
    return AdminError(fmt::format("--admin: '{}' is not HOST:PORT (e.g. 127.0.0.1:9598)", text), 64);
  };
  const size_t colon = t.rfind(':');
  if (colon == std::string_view::npos || colon == 0) throw bad();
  AdminAddress a;
  a.host = std::string(t.substr(0, colon));
  a.port = std::string(t.substr(colon + 1));
  if (a.host.front() == '[') {
    if (a.host.size() < 3 || a.host.back() != ']') throw bad();
    a.host = a.host.substr(1, a.host.size() - 2);
  } else if (a.host.find(':') != std::string::npos) {
    throw bad();  // an IPv6 address needs its brackets, or the port is ambiguous
  }
  unsigned port = 0;
  auto r = std::from_chars(a.port.data(), a.port.data() + a.port.size(), port);
  if (a.port.empty() || r.ec != std::errc() || r.ptr != a.port.data() + a.port.size() || port == 0 || port > 65535)
    throw bad();
  return a;
}

std::string token_from_env(const std::string& variable) {
  if (variable.empty()) return {};
  const char* v = std::getenv(variable.c_str());
  if (!v || !*v) throw AdminError(fmt::format("--token-env: the variable {} is not set", variable), 64);
  return v;
}

bool option_value(int argc, char** argv, int& i, std::string_view name, std::string& value) {
  const std::string_view a = argv[i];
  if (a.substr(0, name.size()) != name) return false;
  if (a.size() == name.size()) {
    if (i + 1 >= argc) throw AdminError(fmt::format("{} needs a value", name), 64);
    value = argv[++i];
    return true;
  }
  if (a[name.size()] != '=') return false;
  value = std::string(a.substr(name.size() + 1));
  return true;
}

std::string url_encode(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

HttpAnswer AdminClient::get(const std::string& target, std::chrono::milliseconds timeout) const {
  // Asynchronous operations on a local io_context, run in short slices: the
  // only way to put one deadline over resolve, connect, write and read, and
  // to let Ctrl-C abandon a tap that waits on the server.
  net::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, address_.text());
  req.set(http::field::user_agent, "socstream");
  req.set(http::field::connection, "close");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  // A scrape of a large topology (Sigma's per-rule series) runs to megabytes.
  parser.body_limit(256u << 20);

  bool done = false, abandoned = false;
  boost::system::error_code failure;
  std::string stage;
  auto fail = [&](const char* what, boost::system::error_code ec) {
    done = true;
    if (abandoned) return;
    failure = ec;
    stage = what;
  };
  resolver.async_resolve(address_.host, address_.port, [&](boost::system::error_code ec, tcp::resolver::results_type rs) {
    if (ec || abandoned) return fail("resolve", ec);
    net::async_connect(socket, rs, [&](boost::system::error_code ec, const tcp::endpoint&) {
      if (ec || abandoned) return fail("connect", ec);
      http::async_write(socket, req, [&](boost::system::error_code ec, size_t) {
        if (ec || abandoned) return fail("write", ec);
        http::async_read(socket, buffer, parser, [&](boost::system::error_code ec, size_t) {
          if (ec) return fail("read", ec);
          done = true;
        });
      });
    });
  });

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false, interrupted = false;
  while (!done) {
    const auto now = std::chrono::steady_clock::now();
    if (cancelled()) interrupted = true;
    if (now >= deadline) timed_out = true;
    if (interrupted || timed_out) break;
    io.run_for(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100)));
    if (io.stopped()) io.restart();
  }
  if (!done) {
    abandoned = true;
    boost::system::error_code ignored;
    resolver.cancel();
    socket.close(ignored);
    io.restart();
    io.run();  // the handlers see operation_aborted and start nothing new
  }
  const std::string where = "no socstream admin endpoint at " + address_.text();
  if (interrupted) throw AdminError("interrupted", 130);
  if (timed_out)
    throw AdminError(fmt::format("{}: no answer within {:.3g} s", where, std::chrono::duration<double>(timeout).count()), 2);
  if (failure) {
    if (stage == "resolve")
      throw AdminError(fmt::format("{}: cannot resolve '{}': {}", where, address_.host, lower_first(failure.message())), 2);
    if (failure == http::error::end_of_stream || failure == net::error::eof)
      throw AdminError(where + ": it closed the connection without an HTTP answer", 2);
    if (failure.category() == http::make_error_code(http::error::end_of_stream).category())
      throw AdminError(fmt::format("{}: not an HTTP answer ({})", where, lower_first(failure.message())), 2);
    throw AdminError(fmt::format("{}: {}", where, lower_first(failure.message())), 2);
  }
  HttpAnswer a;
  auto& res = parser.get();
  a.status = static_cast<int>(res.result_int());
  a.reason = std::string(res.reason());
  a.body = std::move(res.body());
  return a;
}

HttpAnswer AdminClient::checked(const std::string& target, std::chrono::milliseconds timeout) const {
  HttpAnswer a = get(target, timeout);
  if (a.status == 200) return a;
  const std::string path = target.substr(0, target.find('?'));
  std::string message = fmt::format("{} GET {}: {} {}", address_.text(), path, a.status, a.reason);
  const std::string said = error_text(a.body);
  if (!said.empty()) message += ": " + said;
  if (a.status == 401)
    message += token_.empty() ? " (pass --token-env VAR, VAR being the variable that holds the topology's admin token)"
                              : " (the token in --token-env's variable was refused)";
  throw AdminError(message, 1);
}

std::vector<PromSample> parse_prometheus(std::string_view text) {
  std::vector<PromSample> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    PromSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    bool ok = !s.name.empty();
    if (ok && i < line.size() && line[i] == '{') {
      ++i;
      while (ok && i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          ok = false;
          break;
        }
        std::string key(line.substr(i, eq - i)), value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) {
          ok = false;
          break;
        }
        s.labels.emplace(std::move(key), std::move(value));
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) ok = false;
      ++i;
    }
    if (!ok) continue;
    while (i < line.size() && line[i] == ' ') ++i;
    const std::string_view rest = line.substr(i, line.find(' ', i) - i);
    // from_chars takes neither "+Inf" nor "NaN" in every libstdc++; strtod does.
    const std::string number(rest);
    char* end = nullptr;
    s.value = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size()) continue;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace socstream
