#include "operators/sigma/condition.hpp"

#include <cctype>

namespace socstream::sigma {

bool identifier_matches(std::string_view p, std::string_view s) {
  // Iterative glob with backtracking to the last star: linear enough for identifiers.
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < p.size() && p[pi] == s[si]) {
      ++pi;
      ++si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

struct Token {
  enum Kind { Word, Open, Close, End } kind;
  std::string text;
  size_t at;
};

class Parser {
 public:
  Parser(const std::string& text, const Location& where, const std::vector<Search>& searches)
      : text_(text), where_(where), searches_(searches) {
    tokenize();
  }

  Cond parse() {
    Cond c = parse_or();
    if (peek().kind != Token::End) error(peek().at, "unexpected '" + peek().text + "'");
    return c;
  }

 private:
  [[noreturn]] void error(size_t at, const std::string& msg, const char* reason = "bad_condition") const {
    Location l = where_;
    // Plain one-line scalars start at their column; point at the offending token.
    if (l.line > 0 && text_.find('\n') == std::string::npos) l.column += static_cast<int>(at);
    throw RuleError{l, reason, msg + " in condition '" + text_ + "'"};
  }

  void tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '(') {
        tokens_.push_back({Token::Open, "(", i++});
      } else if (c == ')') {
        tokens_.push_back({Token::Close, ")", i++});
      } else if (c == '|') {
        error(i, "the Sigma 1.0 aggregation ('| count() ...') is deprecated; express it as a correlation rule",
              "unsupported");
      } else {
        size_t j = i;
        while (j < text_.size() && !std::isspace(static_cast<unsigned char>(text_[j])) && text_[j] != '(' &&
               text_[j] != ')' && text_[j] != '|')
          ++j;
        tokens_.push_back({Token::Word, text_.substr(i, j - i), i});
        i = j;
      }
    }
    tokens_.push_back({Token::End, "end of condition", text_.size()});
  }

  const Token& peek() const { return tokens_[pos_]; }
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  bool is_word(const char* w) const { return peek().kind == Token::Word && lower(peek().text) == w; }

  Cond parse_or() {
    Cond left = parse_and();
    if (!is_word("or")) return left;
    Cond c{Cond::Op::Or, -1, {std::move(left)}};
    while (is_word("or")) {
      ++pos_;
      c.kids.push_back(parse_and());
    }
    return c;
  }

  Cond parse_and() {
    Cond left = parse_not();
    if (!is_word("and")) return left;
    Cond c{Cond::Op::And, -1, {std::move(left)}};
    while (is_word("and")) {
      ++pos_;
      c.kids.push_back(parse_not());
    }
    return c;
  }

  Cond parse_not() {
    if (is_word("not")) {
      ++pos_;
      return Cond{Cond::Op::Not, -1, {parse_not()}};
    }
    return parse_primary();
  }

  Cond parse_primary() {
    const Token t = peek();
    if (t.kind == Token::Open) {
      ++pos_;
      Cond c = parse_or();
      if (peek().kind != Token::Close) error(peek().at, "expected ')' before '" + peek().text + "'");
      ++pos_;
      return c;
    }
    if (t.kind != Token::Word) error(t.at, "expected a search identifier, 'not' or '(' before '" + t.text + "'");
    const std::string w = lower(t.text);
    if (w == "and" || w == "or" || w == "of" || w == "them") error(t.at, "unexpected '" + t.text + "'");
    ++pos_;
    if (is_word("of")) {
      ++pos_;
      if (w != "1" && w != "all" && w != "any")
        error(t.at, "'" + t.text + " of' is not allowed; Sigma has '1 of' and 'all of'");
      const Token target = peek();
      if (target.kind != Token::Word) error(target.at, "expected 'them' or an identifier pattern after 'of'");
      ++pos_;
      Cond c{w == "all" ? Cond::Op::And : Cond::Op::Or, -1, {}};
      const bool them = lower(target.text) == "them";
      for (size_t i = 0; i < searches_.size(); ++i) {
        const std::string& name = searches_[i].name;
        if (them ? !name.empty() && name[0] != '_' : identifier_matches(target.text, name))
          c.kids.push_back(Cond{Cond::Op::Search, static_cast<int>(i), {}});
      }
      if (c.kids.empty()) error(target.at, "'" + target.text + "' matches no search identifier");
      return c;
    }
    for (size_t i = 0; i < searches_.size(); ++i)
      if (searches_[i].name == t.text) return Cond{Cond::Op::Search, static_cast<int>(i), {}};
    std::vector<std::string> names;
    for (const auto& s : searches_) names.push_back(s.name);
    std::string msg = "unknown search identifier '" + t.text + "'";
    if (auto c = closest(t.text, names)) msg += "; did you mean '" + *c + "'?";
    error(t.at, msg);
  }

  const std::string& text_;
  const Location& where_;
  const std::vector<Search>& searches_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

Cond parse_condition(const std::string& text, const Location& where, const std::vector<Search>& searches) {
  return Parser(text, where, searches).parse();
}

}  // namespace socstream::sigma
