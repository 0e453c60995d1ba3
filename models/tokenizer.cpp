#include "models/tokenizer.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <fstream>
#include <stdexcept>

namespace socstream {

namespace {

// transformers' _is_whitespace: the four ASCII spaces, or category Zs.
bool is_whitespace(UChar32 c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || u_charType(c) == U_SPACE_SEPARATOR;
}

// _is_control: any category C*, but tab, newline and return count as whitespace.
bool is_control(UChar32 c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (u_charType(c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE: return true;
    default: return false;
  }
}

// _is_punctuation: the ASCII non-alphanumeric ranges, or any category P*.
bool is_punctuation(UChar32 c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  switch (u_charType(c)) {
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION: return true;
    default: return false;
  }
}

// _is_chinese_char: the CJK Unified Ideographs blocks, as transformers lists them.
bool is_cjk(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

const icu::Normalizer2& nfc() {
  UErrorCode e = U_ZERO_ERROR;
  static const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(e);
  return *n;
}
const icu::Normalizer2& nfd() {
  UErrorCode e = U_ZERO_ERROR;
  static const icu::Normalizer2* n = icu::Normalizer2::getNFDInstance(e);
  return *n;
}

std::string to_utf8(const icu::UnicodeString& u) {
  std::string s;
  u.toUTF8String(s);
  return s;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::filesystem::path& path, Options opts) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read vocabulary " + path.string());
  std::vector<std::string> vocab;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(line);
  }
  return WordPieceTokenizer(std::move(vocab), opts);
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, Options opts)
    : vocab_(std::move(vocab)), opts_(opts) {
  index_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) index_.emplace(vocab_[i], static_cast<int64_t>(i));
  auto need = [&](const char* t) {
    auto it = index_.find(t);
    if (it == index_.end()) throw std::runtime_error(std::string("the vocabulary has no ") + t);
    return it->second;
  };
  unk_ = need("[UNK]");
  cls_ = need("[CLS]");
  sep_ = need("[SEP]");
  pad_ = need("[PAD]");
  for (const char* s : {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"})
    if (index_.count(s)) specials_.push_back(s);
}

int64_t WordPieceTokenizer::id_of(std::string_view token) const {
  auto it = index_.find(std::string(token));
  return it == index_.end() ? unk_ : it->second;
}

// BasicTokenizer.tokenize on a text that holds no special token.
void WordPieceTokenizer::basic_tokens(std::string_view segment, std::vector<std::string>& out) const {
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(icu::StringPiece(segment.data(), static_cast<int32_t>(segment.size())));
  // PreTrainedTokenizer.tokenize lowercases the text first through the regex
  // `(specials)|(.+?)`, whose lazy match takes one character at a time: each
  // code point is lowered alone (full mapping, so İ gives two), and Σ never sees
  // the context that would make it a final ς.
  if (opts_.lowercase) {
    icu::UnicodeString lowered;
    for (int32_t i = 0; i < text.length();) {
      UChar32 c = text.char32At(i);
      i += U16_LENGTH(c);
      lowered.append(icu::UnicodeString(c).toLower(icu::Locale::getRoot()));
    }
    text = lowered;
  }
  // _clean_text and _tokenize_chinese_chars.
  icu::UnicodeString cleaned;
  for (int32_t i = 0; i < text.length();) {
    UChar32 c = text.char32At(i);
    i += U16_LENGTH(c);
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned.append(static_cast<UChar32>(' '));
    } else if (opts_.tokenize_chinese_chars && is_cjk(c)) {
      cleaned.append(static_cast<UChar32>(' ')).append(c).append(static_cast<UChar32>(' '));
    } else {
      cleaned.append(c);
    }
  }
  UErrorCode err = U_ZERO_ERROR;
  icu::UnicodeString normalized = nfc().normalize(cleaned, err);
  // whitespace_tokenize, then per token: lowercase, strip accents, split on punctuation.
  auto flush_word = [&](icu::UnicodeString& word) {
    if (word.isEmpty()) return;
    if (opts_.lowercase) {
      word.toLower(icu::Locale::getRoot());
      UErrorCode e = U_ZERO_ERROR;
      icu::UnicodeString decomposed = nfd().normalize(word, e);
      word.remove();
      for (int32_t i = 0; i < decomposed.length();) {
        UChar32 c = decomposed.char32At(i);
        i += U16_LENGTH(c);
        if (u_charType(c) != U_NON_SPACING_MARK) word.append(c);
      }
    }
    icu::UnicodeString piece;
    for (int32_t i = 0; i < word.length();) {
      UChar32 c = word.char32At(i);
      i += U16_LENGTH(c);
      if (is_punctuation(c)) {
        if (!piece.isEmpty()) out.push_back(to_utf8(piece));
        piece.remove();
        out.push_back(to_utf8(icu::UnicodeString(c)));
      } else {
        piece.append(c);
      }
    }
    if (!piece.isEmpty()) out.push_back(to_utf8(piece));
    word.remove();
  };
  icu::UnicodeString word;
  for (int32_t i = 0; i < normalized.length();) {
    UChar32 c = normalized.char32At(i);
    i += U16_LENGTH(c);
    // whitespace_tokenize uses str.split(): Python's notion of white space.
    if (u_isspace(c) || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x1F || c == 0x85) {
      flush_word(word);
    } else {
      word.append(c);
    }
  }
  flush_word(word);
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<std::string>& out) const {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(word);
  std::vector<std::string> chars;
  for (int32_t i = 0; i < u.length();) {
    UChar32 c = u.char32At(i);
    i += U16_LENGTH(c);
    chars.push_back(to_utf8(icu::UnicodeString(c)));
  }
  if (chars.size() > opts_.max_input_chars_per_word) {
    out.push_back("[UNK]");
    return;
  }
  const size_t before = out.size();
  for (size_t start = 0; start < chars.size();) {
    size_t end = chars.size();
    std::string found;
    while (start < end) {
      std::string sub = start > 0 ? "##" : "";
      for (size_t k = start; k < end; ++k) sub += chars[k];
      if (index_.count(sub)) {
        found = std::move(sub);
        break;
      }
      --end;
    }
    if (found.empty()) {
      out.resize(before);
      out.push_back("[UNK]");
      return;
    }
    out.push_back(std::move(found));
    start = end;
  }
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> pieces, words;
  // Special tokens written in the text are kept whole, as the reference does with added tokens.
  size_t at = 0;
  while (at <= text.size()) {
    size_t next = std::string_view::npos;
    const std::string* which = nullptr;
    for (const auto& s : specials_) {
      size_t p = text.find(s, at);
      if (p < next) {
        next = p;
        which = &s;
      }
    }
    std::string_view segment = text.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at);
    words.clear();
    basic_tokens(segment, words);
    for (const auto& w : words) wordpiece(w, pieces);
    if (!which) break;
    pieces.push_back(*which);
    at = next + which->size();
  }
  return pieces;
}

Encoding WordPieceTokenizer::encode(std::string_view text, size_t max_length) const {
  std::vector<std::string> pieces = tokenize(text);
  const size_t keep = max_length >= 2 ? std::min(pieces.size(), max_length - 2) : 0;
  Encoding e;
  e.ids.reserve(keep + 2);
  e.ids.push_back(cls_);
  for (size_t i = 0; i < keep; ++i) e.ids.push_back(id_of(pieces[i]));
  e.ids.push_back(sep_);
  e.attention_mask.assign(e.ids.size(), 1);
  return e;
}

std::vector<int64_t> WordPieceTokenizer::ids(std::string_view text) const {
  std::vector<std::string> pieces = tokenize(text);
  std::vector<int64_t> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) out.push_back(id_of(p));
  return out;
}

}  // namespace socstream
