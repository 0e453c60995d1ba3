#include <gtest/gtest.h>

#include "engine/config.hpp"

using namespace socstream;

TEST(Interpolate, VariablesDefaultsAndEscapes) {
  ::setenv("SS_A", "alpha", 1);
  ::setenv("SS_EMPTY", "", 1);
  ::unsetenv("SS_NONE");
  std::string err;
  EXPECT_EQ(interpolate("x-${SS_A}-y", err).value(), "x-alpha-y");
  EXPECT_EQ(interpolate("${SS_NONE:-fallback}", err).value(), "fallback");
  EXPECT_EQ(interpolate("${SS_EMPTY:-fallback}", err).value(), "fallback");
  EXPECT_EQ(interpolate("${SS_EMPTY}", err).value(), "");
  EXPECT_EQ(interpolate("cost $$5 and $x", err).value(), "cost $5 and $x");
  EXPECT_FALSE(interpolate("${SS_NONE}", err).has_value());
  EXPECT_NE(err.find("SS_NONE is not set"), std::string::npos);
  EXPECT_FALSE(interpolate("${SS_A", err).has_value());
  EXPECT_FALSE(interpolate("${1BAD}", err).has_value());
}

TEST(Closest, SuggestsOnlyNearMisses) {
  EXPECT_EQ(closest("feilds", {"fields", "inputs"}).value(), "fields");
  EXPECT_FALSE(closest("zzzzzz", {"fields", "inputs"}).has_value());
}

// A secret put in the wrong setting by mistake: messages name its ${VAR}, never its value.
TEST(Settings, ErrorsNeverEchoAValueFromTheEnvironment) {
  ::setenv("SS_SECRET", "Kq7-topsecret-9931", 1);
  Diagnostics diag;
  YAML::Node n = YAML::Load(R"({port: "${SS_SECRET}", mode: "x-${SS_SECRET}", items: [a, "${SS_SECRET}"]})");
  Settings s(n, "sink", "t.yaml", ".", &diag);
  s.integer("port", 1);
  s.choice("mode", {"xadd", "lpush"}, "xadd");
  s.error("items", "'" + s.list("items")[1] + "' is not a known item");
  const std::string text = diag.str();
  EXPECT_EQ(text.find("topsecret"), std::string::npos) << text;
  EXPECT_NE(text.find("got '${SS_SECRET}'"), std::string::npos) << text;
  EXPECT_NE(text.find("'x-${SS_SECRET}' is not one of"), std::string::npos) << text;
  EXPECT_NE(text.find("'${SS_SECRET}' is not a known item"), std::string::npos) << text;

  // Inside a longer value, and quoted in part.
  Diagnostics more;
  YAML::Node url = YAML::Load(R"({url: "redis://app:${SS_SECRET}@cache:6379/0"})");
  Settings u(url, "sink", "t.yaml", ".", &more);
  const std::string value = u.str("url");
  u.error("url", "cannot log in as '" + value.substr(8, value.find('@') - 8) + "'");
  EXPECT_EQ(more.str().find("topsecret"), std::string::npos) << more.str();
  EXPECT_NE(more.str().find("'app:${SS_SECRET}'"), std::string::npos) << more.str();
  ::unsetenv("SS_SECRET");

  // A part of a value is masked only where the message quotes it: the
  // message's own words stay, and a default written in the file is no secret.
  ::setenv("SS_MODE", "lpush", 1);
  Diagnostics words;
  YAML::Node m = YAML::Load(R"({mode: "${SS_MODE}s", url: "${SS_UNSET_SCHEME:-redis}://cache"})");
  Settings w(m, "sink", "t.yaml", ".", &words);
  w.choice("mode", {"xadd", "publish", "lpush"}, "xadd");
  w.error("url", "a redis sink cannot read '" + w.str("url") + "'");
  EXPECT_NE(words.str().find("'${SS_MODE}s' is not one of: xadd, publish, lpush"), std::string::npos) << words.str();
  EXPECT_NE(words.str().find("a redis sink cannot read 'redis://cache'"), std::string::npos) << words.str();
  ::unsetenv("SS_MODE");
}
