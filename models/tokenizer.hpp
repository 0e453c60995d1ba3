#pragma once
// A WordPiece tokenizer that gives exactly the ids of Hugging Face's reference
// BertTokenizer (uncased) for the same vocabulary: the same cleaning, CJK
// spacing, Unicode normalisation, lowercasing, accent stripping, punctuation
// splitting and greedy longest-match WordPiece, checked against ids produced by
// `transformers` itself (tests/unit/models/tokenizer_test.cpp).
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace socstream {

struct Encoding {
  std::vector<int64_t> ids;             // [CLS] tokens... [SEP]
  std::vector<int64_t> attention_mask;  // 1 per id (padding is the batcher's job)
};

class WordPieceTokenizer {
 public:
  struct Options {
    bool lowercase = true;
    bool tokenize_chinese_chars = true;
    size_t max_input_chars_per_word = 100;
  };

  // One token per line, its id the line number (vocab.txt of BERT models).
  static WordPieceTokenizer from_vocab_file(const std::filesystem::path& vocab, Options opts);
  WordPieceTokenizer(std::vector<std::string> vocab, Options opts);

  // The word pieces of a text, without [CLS]/[SEP].
  std::vector<std::string> tokenize(std::string_view text) const;
  // [CLS] + pieces truncated to max_length - 2 + [SEP], as encode(truncation=True).
  Encoding encode(std::string_view text, size_t max_length) const;
  // The ids of all the pieces, without [CLS]/[SEP] and untruncated: what a
  // caller cuts into windows so that no part of a long text goes unseen.
  std::vector<int64_t> ids(std::string_view text) const;
  int64_t cls_id() const { return cls_; }
  int64_t sep_id() const { return sep_; }

  int64_t id_of(std::string_view token) const;  // the [UNK] id if absent
  size_t vocab_size() const { return vocab_.size(); }
  int64_t pad_id() const { return pad_; }

 private:
  void basic_tokens(std::string_view segment, std::vector<std::string>& out) const;
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> index_;
  Options opts_;
  int64_t unk_ = 0, cls_ = 0, sep_ = 0, pad_ = 0;
  std::vector<std::string> specials_;  // matched verbatim in the input, like added tokens
};

}  // namespace socstream
