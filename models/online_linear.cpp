#include "models/online_linear.hpp"

#include <immintrin.h>

#include <boost/crc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <cstring>
#include <stdexcept>

namespace socstream::online {

namespace {

// Multiply-shift (Fibonacci) hashing: the top bits of the product depend on
// every input bit; one multiply per n-gram.
inline uint32_t slot_of(uint64_t key, uint32_t bits) {
  return static_cast<uint32_t>((key * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

// Word characters after lowercasing: letters, digits and any byte of a
// multi-byte UTF-8 character.
constexpr std::array<bool, 256> kWordChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
  return t;
}();

constexpr char kStart = '\x02', kEnd = '\x03';
constexpr uint64_t kWordSalt = 0x6a09e667f3bcc909ull;

}  // namespace

Featurizer::Featurizer(FeatureOptions o) : o_(o) {
  if (o_.bits < 1 || o_.bits > 30) throw std::invalid_argument("bits must be within 1..30");
  if (o_.ngram_max > 7) throw std::invalid_argument("character n-grams are at most 7 long");
  if (o_.ngram_min > o_.ngram_max) throw std::invalid_argument("ngram_min exceeds ngram_max");
  mask_ = (1u << o_.bits) - 1;
}

// Calls f(slot, kind, offset, length, text) for each feature, offsets into
// the marked, lowercased copy passed as the last argument; position by
// position, each n-gram length at that position, then the words.
template <class F>
void Featurizer::each(std::string_view text, F&& f) const {
  // Marked and lowercased, with 8 readable zero bytes past the end: the
  // n-grams at a position are one unaligned 8-byte load, masked per length.
  thread_local std::string buf;
  const size_t len = std::min(text.size(), o_.max_bytes);
  buf.resize(len + 2 + 8);
  char* p = buf.data();
  p[0] = kStart;
  for (size_t i = 0; i < len; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    p[i + 1] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  p[len + 1] = kEnd;
  std::memset(p + len + 2, 0, 8);
  const size_t marked = len + 2;
  if (o_.ngram_min > 0) {
    uint64_t keep[8], salt[8];
    for (uint32_t n = o_.ngram_min; n <= o_.ngram_max; ++n) {
      keep[n] = (1ull << (8 * n)) - 1;
      salt[n] = uint64_t(n) << 56;  // n <= 7 leaves the top byte free
    }
    const uint32_t lo = o_.ngram_min, hi = o_.ngram_max, bits = o_.bits;
    size_t i = 0;
    // Every length fits up to marked - hi; the tail takes the shorter ones only.
    for (; i + hi <= marked; ++i) {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      for (uint32_t n = lo; n <= hi; ++n) f(slot_of((v & keep[n]) | salt[n], bits), 'c', i, n, p);
    }
    for (; i + lo <= marked; ++i) {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      for (uint32_t n = lo; i + n <= marked; ++n) f(slot_of((v & keep[n]) | salt[n], bits), 'c', i, n, p);
    }
  }
  if (o_.words) {
    // A word is hashed 8 bytes at a time (one multiply per chunk, not per
    // byte); reading past its end stays within the zero padding.
    const size_t end = marked - 1;
    size_t i = 1;
    while (i < end) {
      while (i < end && !kWordChar[static_cast<unsigned char>(p[i])]) ++i;
      if (i >= end) break;
      const size_t start = i;
      while (i < end && kWordChar[static_cast<unsigned char>(p[i])]) ++i;
      uint64_t h = kWordSalt ^ (i - start);
      for (size_t k = start; k < i; k += 8) {
        uint64_t v;
        std::memcpy(&v, p + k, 8);
        if (i - k < 8) v &= (1ull << (8 * (i - k))) - 1;
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
      }
      f(slot_of(h, o_.bits), 'w', start, i - start, p);
    }
  }
}

void Featurizer::add(std::string_view text, std::vector<uint32_t>& out) const {
  // Sized for the most features the text can give, then trimmed: no
  // capacity check per feature.
  const size_t marked = std::min(text.size(), o_.max_bytes) + 2;
  const size_t base = out.size();
  out.resize(base + (o_.ngram_max - o_.ngram_min + 1) * marked + (o_.words ? marked / 2 + 1 : 0));
  uint32_t* const first = out.data() + base;
  uint32_t* o = first;
  each(text, [&o](uint32_t slot, char, size_t, size_t, const char*) { *o++ = slot; });
  out.resize(base + static_cast<size_t>(o - first));
}

void Featurizer::features(std::string_view text, std::vector<Feature>& out, std::string& marked) const {
  const char* base = nullptr;
  each(text, [&](uint32_t slot, char kind, size_t at, size_t n, const char* p) {
    base = p;
    out.push_back(Feature{slot, kind, static_cast<uint32_t>(at), static_cast<uint32_t>(n)});
  });
  const size_t len = std::min(text.size(), o_.max_bytes) + 2;
  if (base) marked.assign(base, len);
  else marked.clear();
}

std::string Featurizer::name(const Feature& f, std::string_view marked) {
  std::string name(1, f.kind);
  name += ':';
  for (size_t i = f.at; i < f.at + f.len && i < marked.size(); ++i)
    name += marked[i] == kStart ? '^' : marked[i] == kEnd ? '$' : marked[i];
  return name;
}

void Featurizer::describe(std::string_view text, std::vector<std::pair<uint32_t, std::string>>& out) const {
  std::vector<Feature> fs;
  std::string marked;
  features(text, fs, marked);
  for (const auto& f : fs) out.emplace_back(f.slot, name(f, marked));
}

std::string ftrl_problem(const FtrlParams& p) {
  // Finite too: l1 = inf zeroes every weight, NaN makes every comparison false.
  if (!(p.alpha > 0) || !(p.beta >= 0) || !(p.l1 >= 0) || !(p.l2 >= 0) || !std::isfinite(p.alpha) ||
      !std::isfinite(p.beta) || !std::isfinite(p.l1) || !std::isfinite(p.l2))
    return "FTRL needs a finite alpha > 0 and finite beta, l1, l2 >= 0";
  // Learning divides by alpha, and a weight is z / ((beta + sqrt(n)) / alpha + l2): with an alpha
  // whose inverse overflows (1e-40) or a denominator near 0 (beta = l2 = 0, where n underflows to 0
  // for a tiny gradient), weights become infinite and every score NaN. The computation as learn() does it.
  const float inv_alpha = 1.f / p.alpha;
  if (!std::isfinite(inv_alpha)) return "FTRL's alpha is too small (1 / alpha overflows)";
  if (!(p.beta * inv_alpha + p.l2 >= 1e-6f))
    return "FTRL's first step, 1 / (beta / alpha + l2), must be at most 1e6 (beta and l2 cannot both be 0)";
  return {};
}

OnlineLinear::OnlineLinear(std::vector<std::string> labels, FeatureOptions f, FtrlParams p)
    : labels_(std::move(labels)), feat_(f), p_(p) {
  if (labels_.size() < 2) throw std::invalid_argument("an online classifier needs at least two labels");
  if (auto why = ftrl_problem(p_); !why.empty()) throw std::invalid_argument(why);
  k_ = static_cast<uint32_t>(labels_.size());
  stride_ = (k_ + 7) / 8 * 8;
  block_ = 2 * size_t(stride_);
  auto zeroed = [](size_t bytes) {
    auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return p;
  };
  const size_t slots = size_t(1) << f.bits;
  w_.reset(zeroed(slots * stride_ * sizeof(float)));
  state_.reset(zeroed(slots * block_ * sizeof(float)));
}

void OnlineLinear::predict(const uint32_t* slots, size_t n, float* probs) const {
  float logit[64];
  thread_local std::vector<float> big;
  float* acc = logit;
  if (stride_ > 64) {
    big.assign(stride_, 0.f);
    acc = big.data();
  }
  const float* w = w_.get();
  const uint32_t bias = feat_.bias();
  for (uint32_t b = 0; b < stride_; b += 8) {
    __m256 sum = _mm256_load_ps(w + size_t(bias) * stride_ + b);
    for (size_t i = 0; i < n; ++i) {
      // Slots are random: fetch ahead so the misses overlap.
      if (i + 16 < n) _mm_prefetch(reinterpret_cast<const char*>(w + size_t(slots[i + 16]) * stride_ + b), _MM_HINT_T0);
      sum = _mm256_add_ps(sum, _mm256_load_ps(w + size_t(slots[i]) * stride_ + b));
    }
    _mm256_storeu_ps(acc + b, sum);
  }
  float top = acc[0];
  for (uint32_t k = 1; k < k_; ++k) top = std::max(top, acc[k]);
  float total = 0;
  for (uint32_t k = 0; k < k_; ++k) total += probs[k] = std::exp(acc[k] - top);
  for (uint32_t k = 0; k < k_; ++k) probs[k] /= total;
}

bool OnlineLinear::learn(const uint32_t* slots, size_t n, uint32_t label, float* probs) {
  // The update will need every feature's state: ask for all of it now, so its
  // misses overlap with each other and with scoring (an example's state fits
  // in L1: ~90 features of 64 bytes).
  const size_t lines = std::min<size_t>(block_ * sizeof(float) / 64, 4);
  for (size_t i = 0; i < n; ++i) {
    const char* at = reinterpret_cast<const char*>(state_.get() + size_t(slots[i]) * block_);
    for (size_t l = 0; l < lines; ++l) _mm_prefetch(at + 64 * l, _MM_HINT_T0);
  }
  predict(slots, n, probs);
  uint32_t best = 0;
  for (uint32_t k = 1; k < k_; ++k)
    if (probs[k] > probs[best]) best = k;
  ++progress_.examples;
  progress_.correct += best == label;
  progress_.log_loss -= std::log(std::max(probs[label], 1e-15f));

  // The softmax loss's gradient for one occurrence of a feature is p - y per
  // class; padded classes have gradient 0 and stay 0.
  alignas(32) float g[64] = {};
  thread_local std::vector<float> big;
  float* grad = g;
  if (stride_ > 64) {
    big.assign(stride_, 0.f);
    grad = big.data();
  }
  for (uint32_t k = 0; k < k_; ++k) grad[k] = probs[k] - (k == label ? 1.f : 0.f);

  const __m256 inv_alpha = _mm256_set1_ps(1.f / p_.alpha);
  const __m256 beta = _mm256_set1_ps(p_.beta);
  const __m256 l1 = _mm256_set1_ps(p_.l1);
  const __m256 l2 = _mm256_set1_ps(p_.l2);
  const __m256 sign = _mm256_set1_ps(-0.f);
  const size_t st = stride_;
  auto step = [&](uint32_t slot) {
    float* blk = state_.get() + size_t(slot) * block_;
    float* wp = w_.get() + size_t(slot) * stride_;
    for (uint32_t b = 0; b < stride_; b += 8) {
      float* c = blk + b;
      __m256 gv = _mm256_loadu_ps(grad + b);
      __m256 w = _mm256_load_ps(wp + b);
      __m256 z = _mm256_load_ps(c);
      __m256 n2 = _mm256_add_ps(_mm256_load_ps(c + st), _mm256_mul_ps(gv, gv));
      __m256 root2 = _mm256_sqrt_ps(n2);
      // sigma = (sqrt(n + g^2) - sqrt(n)) / alpha; z += g - sigma * w
      __m256 sigma = _mm256_mul_ps(_mm256_sub_ps(root2, _mm256_sqrt_ps(_mm256_load_ps(c + st))), inv_alpha);
      z = _mm256_sub_ps(_mm256_add_ps(z, gv), _mm256_mul_ps(sigma, w));
      // w = -(z - sign(z) l1) / ((beta + sqrt(n)) / alpha + l2), or 0 where |z| <= l1
      __m256 zsign = _mm256_and_ps(z, sign);
      __m256 shrunk = _mm256_sub_ps(z, _mm256_or_ps(l1, zsign));
      __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(beta, root2), inv_alpha), l2);
      __m256 nw = _mm256_xor_ps(_mm256_div_ps(shrunk, denom), sign);
      __m256 live = _mm256_cmp_ps(_mm256_andnot_ps(sign, z), l1, _CMP_GT_OQ);
      _mm256_store_ps(wp + b, _mm256_and_ps(nw, live));
      _mm256_store_ps(c, z);
      _mm256_store_ps(c + st, n2);
    }
  };
  step(feat_.bias());
  for (size_t i = 0; i < n; ++i) step(slots[i]);
  ++updates_;
  return best == label;
}

void OnlineLinear::refresh(uint32_t slot) {
  // The same arithmetic as learn's, so a restored model predicts bit for bit
  // what the saved one did.
  const __m256 inv_alpha = _mm256_set1_ps(1.f / p_.alpha);
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 l1 = _mm256_set1_ps(p_.l1);
  const size_t st = stride_;
  float* blk = state_.get() + size_t(slot) * block_;
  float* wp = w_.get() + size_t(slot) * stride_;
  for (uint32_t b = 0; b < stride_; b += 8) {
    float* c = blk + b;
    __m256 z = _mm256_load_ps(c);
    __m256 root = _mm256_sqrt_ps(_mm256_load_ps(c + st));
    __m256 shrunk = _mm256_sub_ps(z, _mm256_or_ps(l1, _mm256_and_ps(z, sign)));
    __m256 denom =
        _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_set1_ps(p_.beta), root), inv_alpha), _mm256_set1_ps(p_.l2));
    __m256 nw = _mm256_xor_ps(_mm256_div_ps(shrunk, denom), sign);
    __m256 live = _mm256_cmp_ps(_mm256_andnot_ps(sign, z), l1, _CMP_GT_OQ);
    _mm256_store_ps(wp + b, _mm256_and_ps(nw, live));
  }
}

// ---- snapshots -------------------------------------------------------------

namespace {

constexpr char kMagic[8] = {'S', 'O', 'C', 'S', 'O', 'L', '\x01', '\n'};

struct Writer {
  std::string out;
  template <class T>
  void put(T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    out += s;
  }
};

struct Reader {
  std::string_view in;
  size_t at = 0;
  void need(size_t n) {
    if (in.size() - at < n) throw std::runtime_error("truncated at byte " + std::to_string(at));
  }
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::string str() {
    uint32_t n = get<uint32_t>();
    need(n);
    std::string s(in.substr(at, n));
    at += n;
    return s;
  }
};

}  // namespace

std::string OnlineLinear::to_bytes() const {
  Writer w;
  w.out.append(kMagic, sizeof kMagic);
  const auto& f = feat_.options();
  w.put(f.bits);
  w.put(f.ngram_min);
  w.put(f.ngram_max);
  w.put(static_cast<uint8_t>(f.words));
  w.put(static_cast<uint64_t>(f.max_bytes));
  w.put(p_.alpha);
  w.put(p_.beta);
  w.put(p_.l1);
  w.put(p_.l2);
  w.put(k_);
  for (const auto& l : labels_) w.put(l);
  w.put(updates_);
  w.put(progress_.examples);
  w.put(progress_.correct);
  w.put(progress_.log_loss);
  // Only touched slots: a model that has seen 20K payloads uses a few percent of them.
  const size_t slots = size_t(1) << f.bits;
  uint64_t touched = 0;
  size_t count_at = w.out.size();
  w.put(touched);
  for (size_t s = 0; s < slots; ++s) {
    const float* blk = state_.get() + s * block_;
    const float* n = blk + stride_;
    if (std::none_of(n, n + k_, [](float v) { return v != 0.f; })) continue;
    ++touched;
    w.put(static_cast<uint32_t>(s));
    w.out.append(reinterpret_cast<const char*>(blk), k_ * sizeof(float));
    w.out.append(reinterpret_cast<const char*>(n), k_ * sizeof(float));
  }
  std::memcpy(&w.out[count_at], &touched, sizeof touched);
  boost::crc_32_type crc;
  crc.process_bytes(w.out.data(), w.out.size());
  w.put(static_cast<uint32_t>(crc.checksum()));
  return std::move(w.out);
}

OnlineLinear OnlineLinear::from_bytes(std::string_view bytes, const Expect& expect) {
  if (bytes.size() < sizeof kMagic + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw std::runtime_error("not a socstream online-model snapshot (bad magic)");
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size() - 4);
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  if (stored != crc.checksum()) throw std::runtime_error("checksum mismatch: the snapshot is damaged");
  Reader r{bytes.substr(0, bytes.size() - 4), sizeof kMagic};
  FeatureOptions f;
  f.bits = r.get<uint32_t>();
  f.ngram_min = r.get<uint32_t>();
  f.ngram_max = r.get<uint32_t>();
  f.words = r.get<uint8_t>() != 0;
  f.max_bytes = r.get<uint64_t>();
  FtrlParams p;
  p.alpha = r.get<float>();
  p.beta = r.get<float>();
  p.l1 = r.get<float>();
  p.l2 = r.get<float>();
  // A snapshot can carry a valid checksum and still be wrong (written by a bug,
  // or by someone): every option and value is checked as the engine's own settings are.
  // The bounds the online_classifier operator accepts in its settings.
  if (f.bits < 1 || f.bits > 30) throw std::runtime_error("implausible bits " + std::to_string(f.bits));
  if (f.ngram_max > 7 || f.ngram_min > f.ngram_max) throw std::runtime_error("implausible n-gram lengths");
  uint32_t k = r.get<uint32_t>();
  if (k < 2 || k > 4096) throw std::runtime_error("implausible class count " + std::to_string(k));
  std::vector<std::string> labels;
  for (uint32_t i = 0; i < k; ++i) labels.push_back(r.str());
  if (expect) expect(labels, f);
  std::optional<OnlineLinear> made;
  try {
    made.emplace(std::move(labels), f, p);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("bad options: ") + e.what());
  }
  OnlineLinear& m = *made;
  m.updates_ = r.get<uint64_t>();
  m.progress_.examples = r.get<uint64_t>();
  m.progress_.correct = r.get<uint64_t>();
  m.progress_.log_loss = r.get<double>();
  uint64_t touched = r.get<uint64_t>();
  const size_t slots = size_t(1) << f.bits;
  for (uint64_t i = 0; i < touched; ++i) {
    uint32_t s = r.get<uint32_t>();
    if (s >= slots) throw std::runtime_error("slot " + std::to_string(s) + " out of range");
    r.need(2 * k * sizeof(float));
    float* blk = m.state_.get() + size_t(s) * m.block_;
    std::memcpy(blk, r.in.data() + r.at, k * sizeof(float));
    r.at += k * sizeof(float);
    std::memcpy(blk + m.stride_, r.in.data() + r.at, k * sizeof(float));
    r.at += k * sizeof(float);
    // Finite is not enough: z and n grow by about one per update (n by g^2 <= 1), so a trained
    // model's stay far below 1e20, and from a z near FLT_MAX (a forged 2e38) learning overflows
    // to infinite weights at once. Below the bound, and with ftrl_problem's options, weights and
    // learning stay finite.
    constexpr float kMaxState = 1e20f;
    for (uint32_t j = 0; j < k; ++j)
      if (!(std::fabs(blk[j]) <= kMaxState) || !(blk[m.stride_ + j] >= 0 && blk[m.stride_ + j] <= kMaxState))
        throw std::runtime_error("slot " + std::to_string(s) + " holds a value that is not a finite weight state");
    m.refresh(s);
  }
  if (r.at != r.in.size()) throw std::runtime_error("trailing bytes after the last slot");
  if (!std::isfinite(m.progress_.log_loss)) throw std::runtime_error("the progressive log-loss is not finite");
  return std::move(*made);
}

}  // namespace socstream::online
