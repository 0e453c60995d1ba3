// format: csv. One record per line (RFC 4180 quoting: "a, b", "say ""hi"""),
// `delimiter` (default ","), values named by `columns`, or with `header: true`
// by the first line the operator reads (that line goes to dlq as no_match,
// its detail saying it was the header: nothing leaves unaccounted for; so
// does the header line repeated, as concatenated files have it). A header
// that names a column twice makes every record a duplicate_key.
// A record with more values than columns is no_match; fewer leave the rest out.
#include <mutex>

#include "operators/parse/format.hpp"

namespace socstream::parse {

namespace {

class Csv final : public Format {
 public:
  Csv(std::vector<std::string> columns, char delimiter, bool header)
      : columns_(std::move(columns)), delimiter_(delimiter), header_(header) {}

  // A header's columns are known only once the first line is read.
  FieldWrites writes() const override { return {header_ ? std::vector<std::string>{} : columns_, header_}; }

  bool parse(std::string_view line, Output& out, std::string& detail) override {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    values_.clear();
    if (!split(line, detail)) return false;
    if (header_ && columns_.empty()) {
      // The header line: it names the columns and is no record.
      for (const auto& v : values_) columns_.push_back(v);
      detail = "the header line (it names the columns)";
      return false;
    }
    if (header_ && values_.size() == columns_.size() && std::equal(values_.begin(), values_.end(), columns_.begin())) {
      detail = "the header line again";
      return false;
    }
    if (values_.size() > columns_.size()) {
      detail = std::to_string(values_.size()) + " values for " + std::to_string(columns_.size()) + " columns";
      return false;
    }
    // Header names are the data's (interned, a repeat refused); `columns` were checked at load.
    for (size_t i = 0; i < values_.size(); ++i)
      if (header_) out.add_named(columns_[i], out.copy(values_[i]));
      else out.add(columns_[i], out.copy(values_[i]));
    return true;
  }

 private:
  bool split(std::string_view line, std::string& detail) {
    std::string cell;
    size_t i = 0;
    for (;;) {
      cell.clear();
      if (i < line.size() && line[i] == '"') {
        ++i;
        bool closed = false;
        for (; i < line.size(); ++i) {
          if (line[i] == '"') {
            if (i + 1 < line.size() && line[i + 1] == '"') {
              cell += '"';
              ++i;
            } else {
              closed = true;
              ++i;
              break;
            }
          } else {
            cell += line[i];
          }
        }
        if (!closed || (i < line.size() && line[i] != delimiter_)) {
          detail = "a quoted value closed before the delimiter";
          return false;
        }
      } else {
        while (i < line.size() && line[i] != delimiter_) cell += line[i++];
      }
      values_.push_back(cell);
      if (i >= line.size()) return true;
      ++i;  // the delimiter
    }
  }

  std::vector<std::string> columns_;
  char delimiter_;
  bool header_;
  std::vector<std::string> values_;
};

}  // namespace

std::unique_ptr<Format> make_csv(const Settings& s) {
  auto columns = s.list("columns");
  const bool header = s.flag("header", false);
  if (columns.empty() && !header) s.error("format", "format csv needs 'columns' or 'header: true'");
  for (size_t i = 0; i < columns.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (columns[i] == columns[j]) s.error("columns", "the column '" + columns[i] + "' is named twice");
  const std::string d = s.str("delimiter", ",");
  if (d.size() != 1 && d != "\\t") s.error("delimiter", "one character (or \\t)");
  return std::make_unique<Csv>(columns, d == "\\t" ? '\t' : d[0], header);
}

}  // namespace socstream::parse
