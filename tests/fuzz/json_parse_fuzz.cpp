// json_parse (operators/json_parse.cpp): the input is one event's bytes, as a
// Kafka message or a line gives them. Each of three configurations (every
// field flattened, duplicates refused; the last duplicate kept, shallow and
// small limits; JSON pointers, the first duplicate kept) runs it through the
// operator, and JsonParse::parse again without the read-ahead padding.
// Checked: the event leaves exactly once, on the default port or as a dead
// letter with a reason; padded and unpadded parsing agree; an accepted event
// has no field named twice; its fields and its dead-letter record are JSON
// when the engine writes them.
#include <set>

#include "operators/json_parse.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;

namespace {

struct Setup {
  const char* yaml;
  bool all;  // fields: all
};

const Setup kSetups[] = {
    {"{fields: all}", true},
    {"{fields: all, duplicate_keys: last, max_depth: 8, max_bytes: 2KiB}", true},
    {R"({fields: {ip: /source/ip, q: /url/query, first: /a/0, slash: /a~1b, tilde: /c~0d, obj: /nested,
                  deep: /x/y/z, n: /n, empty: /}, duplicate_keys: first})",
     false},
};

std::string describe(const Event& e) {
  std::string s;
  for (const auto& f : e.fields) s += std::string(f.name) + "=" + std::string(f.value) + "\n";
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  static const std::string source = "fuzz";
  for (const auto& setup : kSetups) {
    Config c(setup.yaml, "parse", scratch_dir());
    FUZZ_CHECK(c.diag.ok(), c.diag.str());
    JsonParse op(*c.settings);

    // Through the operator, with the padding a line source gives.
    auto buf = std::make_shared<std::string>(raw);
    buf->append(Batch::kRawPadding, ' ');
    Batch in;
    in.raw_padded = true;
    in.events.emplace_back();
    in.events.back().raw = std::string_view(buf->data(), raw.size());
    in.events.back().pos.source = &source;
    in.hold(buf);
    Routed r;
    run(op, std::move(in), r);
    const auto& ok = r.port("");
    const auto& bad = r.port("dlq");
    for (const auto& e : ok) {
      check_event_json(e);
      if (setup.all) {
        std::set<std::string_view> names;
        for (const auto& f : e.fields) FUZZ_CHECK(names.insert(f.name).second, "field named twice: " + std::string(f.name));
      }
    }
    for (const auto& e : bad) check_event_json(e);

    // Directly, without padding (a copy of exactly `size` bytes, so ASan sees any read past them).
    std::unique_ptr<char[]> exact(new char[size ? size : 1]);
    if (size) std::memcpy(exact.get(), data, size);
    Event e;
    Arena arena;
    std::string_view detail;
    const char* reason = op.parse(std::string_view(exact.get(), size), e, arena, detail, false);
    if (reason) {
      FUZZ_CHECK(bad.size() == 1 && bad[0].error == reason,
                 std::string("unpadded parse refused it as ") + reason + ", padded " +
                     (bad.empty() ? "accepted it" : std::string(bad[0].error)));
      FUZZ_CHECK(!detail.empty(), "a refusal without detail");
    } else {
      FUZZ_CHECK(ok.size() == 1, std::string("unpadded parse accepted it, padded refused it as ") +
                                     (bad.empty() ? "?" : std::string(bad[0].error)));
      FUZZ_CHECK(describe(e) == describe(ok[0]), "padded and unpadded fields differ:\n" + describe(ok[0]) +
                                                     "---\n" + describe(e));
    }
  }
  return 0;
}
