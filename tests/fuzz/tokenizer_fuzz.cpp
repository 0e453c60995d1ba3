// The WordPiece tokenizer (models/tokenizer.cpp): the input is a text to
// score, any bytes (invalid UTF-8 included), as the transformer operator
// gives it. Two tokenizers over the bundled BERT vocabulary: the models'
// (uncased, CJK spacing) and a cased one without CJK spacing and with words
// cut at 8 characters.
//
// Checked: encode() gives [CLS] pieces [SEP], at most max_length ids, a mask
// of ones as long; its pieces are the first ones of ids() (truncation only
// cuts); ids() are tokenize()'s pieces looked up; every id is in the vocabulary.
#include "models/tokenizer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;

namespace {

void check(const WordPieceTokenizer& tok, std::string_view text) {
  const std::vector<std::string> pieces = tok.tokenize(text);
  const std::vector<int64_t> ids = tok.ids(text);
  FUZZ_CHECK(ids.size() == pieces.size(), std::to_string(ids.size()) + " ids, " + std::to_string(pieces.size()) + " pieces");
  for (size_t i = 0; i < ids.size(); ++i) {
    FUZZ_CHECK(ids[i] >= 0 && static_cast<size_t>(ids[i]) < tok.vocab_size(), "id out of the vocabulary");
    FUZZ_CHECK(ids[i] == tok.id_of(pieces[i]), "piece '" + pieces[i] + "' and its id differ");
    FUZZ_CHECK(!pieces[i].empty(), "an empty piece");
  }
  for (size_t max_length : {size_t{2}, size_t{7}, size_t{64}}) {
    const Encoding e = tok.encode(text, max_length);
    FUZZ_CHECK(e.ids.size() >= 2 && e.ids.size() <= max_length, std::to_string(e.ids.size()) + " ids");
    FUZZ_CHECK(e.ids.front() == tok.cls_id() && e.ids.back() == tok.sep_id(), "not [CLS] ... [SEP]");
    FUZZ_CHECK(e.attention_mask == std::vector<int64_t>(e.ids.size(), 1), "the mask is not ones");
    const size_t kept = std::min(ids.size(), max_length - 2);
    FUZZ_CHECK(e.ids.size() == kept + 2, "truncated to " + std::to_string(e.ids.size()));
    FUZZ_CHECK(std::equal(e.ids.begin() + 1, e.ids.end() - 1, ids.begin()), "encode's pieces are not ids()' first");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto vocab = std::filesystem::path(SOCSTREAM_SOURCE_DIR) / "models/vocab/bert-uncased/vocab.txt";
  static const WordPieceTokenizer uncased = WordPieceTokenizer::from_vocab_file(vocab, {});
  static const WordPieceTokenizer cased = WordPieceTokenizer::from_vocab_file(vocab, {false, false, 8});
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(uncased, text);
  check(cased, text);
  return 0;
}
