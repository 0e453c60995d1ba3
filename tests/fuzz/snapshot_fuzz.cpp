// The online classifier's snapshot reader (models/snapshots.cpp,
// OnlineLinear::from_bytes in models/online_linear.cpp): the input is a
// snapshot file, restored through SnapshotStore as the online_classifier
// operator restores it, with an `expect` like the operator's (here: any
// labels, at most 2^14 slots, as if the topology configured that).
//
// A snapshot ends with a CRC-32 of the rest, which random bytes never match:
// the target writes the right one over the input's last four bytes, so the
// fuzzer explores what lies behind the checksum (a forged snapshot with a
// valid checksum is the threat the checks after it are for). Inputs shorter
// than the magic and the CRC are restored as they are.
//
// Checked: restore never crashes and refuses by throwing; a restored model
// scores texts with finite probabilities that sum to 1, its own snapshot
// restores to the same bytes, and it still scores sanely after learning.
#include <boost/crc.hpp>

#include <cmath>

#include "models/online_linear.hpp"
#include "models/snapshots.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using namespace socstream;
using namespace socstream::fuzz;
using socstream::online::OnlineLinear;

namespace {

void check_scores(const OnlineLinear& m, const std::vector<uint32_t>& slots, std::vector<float>& probs, const char* when) {
  m.predict(slots.data(), slots.size(), probs.data());
  double sum = 0;
  for (float p : probs) {
    FUZZ_CHECK(std::isfinite(p) && p >= 0 && p <= 1, std::string(when) + ": probability " + std::to_string(p));
    sum += p;
  }
  FUZZ_CHECK(std::fabs(sum - 1) < 1e-3, std::string(when) + ": probabilities sum to " + std::to_string(sum));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() >= 12) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size() - 4);
    const uint32_t sum = crc.checksum();
    std::memcpy(bytes.data() + bytes.size() - 4, &sum, 4);
  }
  const auto dir = scratch_dir() / "snapshots";
  std::filesystem::remove_all(dir);
  online::SnapshotStore store(dir, "online");
  write_file(store.path_of(7), bytes);
  FUZZ_CHECK(store.generations() == std::vector<uint64_t>{7}, "the store does not see the snapshot");

  std::optional<OnlineLinear> model;
  std::vector<std::string> errors;
  auto expect = [](const std::vector<std::string>& labels, const online::FeatureOptions& f) {
    FUZZ_CHECK(labels.size() >= 2, "expect() sees fewer than two labels");
    if (f.bits > 14) throw std::runtime_error("made with other features than this topology's");
  };
  auto gen = store.restore([&](std::string_view b) { model.emplace(OnlineLinear::from_bytes(b, expect)); }, errors);
  if (!gen) {
    FUZZ_CHECK(errors.size() == 1 && !model, "a refusal not reported once");
    return 0;
  }
  FUZZ_CHECK(*gen == 7 && errors.empty(), "restored another generation");
  OnlineLinear& m = *model;

  std::vector<float> probs(m.labels().size());
  std::vector<uint32_t> slots;
  const std::string_view texts[] = {"id=1' union select password from users--", "q=hello world", "",
                                    std::string_view(bytes).substr(0, 64)};
  for (auto text : texts) {
    slots.clear();
    m.featurizer().add(text, slots);
    slots.push_back(m.featurizer().bias());
    for (uint32_t s : slots) FUZZ_CHECK(s <= m.featurizer().bias(), "a feature slot out of range");
    check_scores(m, slots, probs, "restored");
  }
  const std::string saved = m.to_bytes();
  OnlineLinear again = OnlineLinear::from_bytes(saved);
  FUZZ_CHECK(again.to_bytes() == saved, "a restored model's snapshot does not restore to itself");

  for (uint32_t label = 0; label < m.labels().size() && label < 4; ++label) {
    slots.clear();
    m.featurizer().add(texts[label % 2], slots);
    slots.push_back(m.featurizer().bias());
    m.learn(slots.data(), slots.size(), label, probs.data());
    check_scores(m, slots, probs, "after learning");
  }
  // (Its snapshot after learning may be refused: from a state the restore accepted at its bound,
  // learning can cross it. That such a state stays finite and scores sanely is what is checked.)
  return 0;
}
