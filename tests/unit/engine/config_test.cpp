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
