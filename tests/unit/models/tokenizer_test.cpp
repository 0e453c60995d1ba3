// The tokenizer against ids made by Hugging Face's reference BertTokenizer
// (models/train/make_tokenizer_golden.py) on 2,364 strings: payloads of the
// labelled data set, log fields, unicode, accents, control characters, CJK,
// special tokens in text, very long inputs.
#include "models/tokenizer.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "tests/support/test_support.hpp"

using namespace socstream;
using socstream::testing::source_dir;

namespace {
WordPieceTokenizer load() {
  return WordPieceTokenizer::from_vocab_file(source_dir() / "models/vocab/bert-uncased/vocab.txt", {});
}
}  // namespace

TEST(Tokenizer, MatchesHuggingFaceOnTheGoldenFile) {
  auto tok = load();
  ASSERT_EQ(tok.vocab_size(), 30522u);
  std::ifstream in(source_dir() / "tests/data/tokenizer_golden.jsonl");
  simdjson::dom::parser p;
  size_t total = 0, wrong = 0;
  std::string report;
  for (std::string line; std::getline(in, line); ++total) {
    simdjson::dom::element g = p.parse(line);
    std::string_view text = g["text"];
    std::vector<int64_t> want;
    for (int64_t id : g["ids"].get_array()) want.push_back(id);
    Encoding e = tok.encode(text, 128);
    EXPECT_EQ(e.attention_mask.size(), e.ids.size());
    if (e.ids != want) {
      if (++wrong <= 10) {
        std::ostringstream os;
        os << "  text: " << line.substr(0, 160) << "\n  got:";
        for (auto id : e.ids) os << ' ' << id;
        os << "\n  want:";
        for (auto id : want) os << ' ' << id;
        report += os.str() + "\n";
      }
    }
  }
  EXPECT_GE(total, 2000u);
  EXPECT_EQ(wrong, 0u) << wrong << " of " << total << " strings differ; first ones:\n" << report;
}

TEST(Tokenizer, PiecesAndTruncation) {
  auto tok = load();
  EXPECT_EQ(tok.tokenize("unaffable"), (std::vector<std::string>{"una", "##ffa", "##ble"}));
  EXPECT_EQ(tok.tokenize("Hello, WORLD!"), (std::vector<std::string>{"hello", ",", "world", "!"}));
  EXPECT_EQ(tok.tokenize(std::string(101, 'a')), (std::vector<std::string>{"[UNK]"})) << "over 100 characters";
  Encoding e = tok.encode("one two three four five", 4);
  EXPECT_EQ(e.ids.size(), 4u) << "[CLS] one two [SEP]";
  EXPECT_EQ(e.ids.front(), tok.id_of("[CLS]"));
  EXPECT_EQ(e.ids.back(), tok.id_of("[SEP]"));
  EXPECT_EQ(e.ids[1], tok.id_of("one"));
  EXPECT_EQ(tok.id_of("no-such-token-anywhere"), tok.id_of("[UNK]"));
}
