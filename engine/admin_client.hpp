#pragma once
// The client side of the admin endpoint (engine/admin.hpp, docs/api.md), for
// `socstream top` and `socstream tap`: one HTTP/1.1 request per connection
// (the server closes each), with a deadline on the whole exchange, a bearer
// token taken from an environment variable, and errors worded for the person
// at the terminal. Exit codes of both commands: 0 done, 1 the endpoint
// answered with an error (401, no such component), 2 nothing usable answered
// (refused, timed out, not socstream), 64 a wrong command line.
#include <atomic>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace socstream {

// Why a request gave no answer to use; `exit_code` is what the command returns.
class AdminError : public std::runtime_error {
 public:
  AdminError(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

struct AdminAddress {
  std::string host = "127.0.0.1";
  std::string port = "9598";
  std::string text() const;  // as the user wrote it: HOST:PORT, [v6]:PORT
};
// HOST:PORT, [IPv6]:PORT or http://HOST:PORT[/]; anything else is an AdminError (exit 64).
AdminAddress parse_admin_address(std::string_view text);

struct HttpAnswer {
  int status = 0;
  std::string reason;  // "Unauthorized"
  std::string body;
};

class AdminClient {
 public:
  // token: empty for none. cancel, when set, abandons a request in flight (Ctrl-C).
  AdminClient(AdminAddress address, std::string token, const std::atomic<bool>* cancel = nullptr)
      : address_(std::move(address)), token_(std::move(token)), cancel_(cancel) {}
  // Throws AdminError (exit 2) when nothing answers within `timeout`, and
  // (exit 130) when `cancel` was set; any HTTP status is an answer (see checked()).
  HttpAnswer get(const std::string& target, std::chrono::milliseconds timeout) const;
  // As get, and a status other than 200 becomes an AdminError (exit 1) that
  // says what the endpoint said: its {"error": ...}, and for a 401 what to do.
  HttpAnswer checked(const std::string& target, std::chrono::milliseconds timeout) const;
  const AdminAddress& address() const { return address_; }
  bool cancelled() const { return cancel_ && cancel_->load(); }

 private:
  AdminAddress address_;
  std::string token_;
  const std::atomic<bool>* cancel_;
};

// The token from the variable named by --token-env (empty name: none). An
// unset or empty variable is an AdminError (exit 64) naming the variable.
std::string token_from_env(const std::string& variable);

// A query value, percent-encoded beyond RFC 3986's unreserved characters.
std::string url_encode(std::string_view v);

// One sample of the Prometheus text format.
struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
// Every sample of an exposition (text 0.0.4); comments and lines it cannot read are skipped.
std::vector<PromSample> parse_prometheus(std::string_view text);

// `--name VALUE` or `--name=VALUE` at argv[i] (i moves past the value);
// false when argv[i] is another option. A missing value is an AdminError (exit 64).
bool option_value(int argc, char** argv, int& i, std::string_view name, std::string& value);

// The commands (engine/cli_top.cpp, engine/cli_tap.cpp); argv[0] is the command's name.
int top_main(int argc, char** argv);
int tap_main(int argc, char** argv);

}  // namespace socstream
