#include "models/online_linear.hpp"

#include <immintrin.h>

#include <boost/crc.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace socstream::online {

namespace {

// murmur3's 64-bit finaliser: every input bit reaches every slot bit, which
// the low bits of a plain multiply do not give.
inline uint64_t fmix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

inline bool word_char(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80; }

constexpr char kStart = '\x02', kEnd = '\x03';
constexpr uint64_t kWordSalt = 0x6a09e667f3bcc909ull;

}  // namespace

Featurizer::Featurizer(FeatureOptions o) : o_(o) {
  if (o_.bits < 1 || o_.bits > 30) throw std::invalid_argument("bits must be within 1..30");
  if (o_.ngram_max > 7) throw std::invalid_argument("character n-grams are at most 7 long");
  if (o_.ngram_min > o_.ngram_max) throw std::invalid_argument("ngram_min exceeds ngram_max");
  mask_ = (1u << o_.bits) - 1;
}

// Calls f(slot, kind, offset, length) for each feature, offsets into the
// marked, lowercased copy passed as the fifth argument.
template <class F>
void Featurizer::each(std::string_view text, F&& f) const {
  // Marked and lowercased, with 8 readable zero bytes past the end so an
  // n-gram is one unaligned 8-byte load and a mask.
  thread_local std::string buf;
  size_t len = std::min(text.size(), o_.max_bytes);
  buf.assign(len + 2 + 8, '\0');
  buf[0] = kStart;
  for (size_t i = 0; i < len; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    buf[i + 1] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  buf[len + 1] = kEnd;
  const size_t marked = len + 2;
  const char* p = buf.data();
  if (o_.ngram_min > 0) {
    for (uint32_t n = o_.ngram_min; n <= o_.ngram_max; ++n) {
      if (n > marked) break;
      const uint64_t keep = n == 8 ? ~0ull : (1ull << (8 * n)) - 1;
      const uint64_t salt = uint64_t(n) << 56;  // n <= 7 leaves the top byte free
      for (size_t i = 0; i + n <= marked; ++i) {
        uint64_t v;
        std::memcpy(&v, p + i, 8);
        f(static_cast<uint32_t>(fmix((v & keep) | salt)) & mask_, 'c', i, n, p);
      }
    }
  }
  if (o_.words) {
    size_t i = 1;
    while (i < marked - 1) {
      while (i < marked - 1 && !word_char(static_cast<unsigned char>(p[i]))) ++i;
      size_t start = i;
      uint64_t h = 14695981039346656037ull;
      while (i < marked - 1 && word_char(static_cast<unsigned char>(p[i]))) {
        h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
        ++i;
      }
      if (i > start) f(static_cast<uint32_t>(fmix(h ^ kWordSalt)) & mask_, 'w', start, i - start, p);
    }
  }
}

void Featurizer::add(std::string_view text, std::vector<uint32_t>& out) const {
  each(text, [&](uint32_t slot, char, size_t, size_t, const char*) { out.push_back(slot); });
}

void Featurizer::describe(std::string_view text, std::vector<std::pair<uint32_t, std::string>>& out) const {
  each(text, [&](uint32_t slot, char kind, size_t at, size_t n, const char* p) {
    std::string name(1, kind);
    name += ':';
    for (size_t i = at; i < at + n; ++i)
      name += p[i] == kStart ? '^' : p[i] == kEnd ? '$' : p[i];
    out.emplace_back(slot, std::move(name));
  });
}

OnlineLinear::OnlineLinear(std::vector<std::string> labels, FeatureOptions f, FtrlParams p)
    : labels_(std::move(labels)), feat_(f), p_(p) {
  if (labels_.size() < 2) throw std::invalid_argument("an online classifier needs at least two labels");
  if (!(p_.alpha > 0) || p_.beta < 0 || p_.l1 < 0 || p_.l2 < 0)
    throw std::invalid_argument("FTRL needs alpha > 0 and beta, l1, l2 >= 0");
  k_ = static_cast<uint32_t>(labels_.size());
  stride_ = (k_ + 7) / 8 * 8;
  size_t cells = (size_t(1) << f.bits) * stride_;
  w_.assign(cells, 0.f);
  z_.assign(cells, 0.f);
  n_.assign(cells, 0.f);
}

void OnlineLinear::predict(const uint32_t* slots, size_t n, float* probs) const {
  float logit[64];
  thread_local std::vector<float> big;
  float* acc = logit;
  if (stride_ > 64) {
    big.assign(stride_, 0.f);
    acc = big.data();
  }
  const float* w = w_.data();
  const uint32_t bias = feat_.bias();
  for (uint32_t b = 0; b < stride_; b += 8) {
    __m256 sum = _mm256_loadu_ps(w + size_t(bias) * stride_ + b);
    for (size_t i = 0; i < n; ++i) sum = _mm256_add_ps(sum, _mm256_loadu_ps(w + size_t(slots[i]) * stride_ + b));
    _mm256_storeu_ps(acc + b, sum);
  }
  float top = acc[0];
  for (uint32_t k = 1; k < k_; ++k) top = std::max(top, acc[k]);
  float total = 0;
  for (uint32_t k = 0; k < k_; ++k) total += probs[k] = std::exp(acc[k] - top);
  for (uint32_t k = 0; k < k_; ++k) probs[k] /= total;
}

bool OnlineLinear::learn(const uint32_t* slots, size_t n, uint32_t label, float* probs) {
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
  auto step = [&](uint32_t slot) {
    for (uint32_t b = 0; b < stride_; b += 8) {
      size_t at = size_t(slot) * stride_ + b;
      __m256 gv = _mm256_loadu_ps(grad + b);
      __m256 w = _mm256_loadu_ps(&w_[at]);
      __m256 z = _mm256_loadu_ps(&z_[at]);
      __m256 nv = _mm256_loadu_ps(&n_[at]);
      __m256 n2 = _mm256_add_ps(nv, _mm256_mul_ps(gv, gv));
      __m256 root2 = _mm256_sqrt_ps(n2);
      // sigma = (sqrt(n + g^2) - sqrt(n)) / alpha; z += g - sigma * w
      __m256 sigma = _mm256_mul_ps(_mm256_sub_ps(root2, _mm256_sqrt_ps(nv)), inv_alpha);
      z = _mm256_sub_ps(_mm256_add_ps(z, gv), _mm256_mul_ps(sigma, w));
      // w = -(z - sign(z) l1) / ((beta + sqrt(n)) / alpha + l2), or 0 where |z| <= l1
      __m256 zsign = _mm256_and_ps(z, sign);
      __m256 shrunk = _mm256_sub_ps(z, _mm256_or_ps(l1, zsign));
      __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(beta, root2), inv_alpha), l2);
      __m256 nw = _mm256_xor_ps(_mm256_div_ps(shrunk, denom), sign);
      __m256 live = _mm256_cmp_ps(_mm256_andnot_ps(sign, z), l1, _CMP_GT_OQ);
      _mm256_storeu_ps(&w_[at], _mm256_and_ps(nw, live));
      _mm256_storeu_ps(&z_[at], z);
      _mm256_storeu_ps(&n_[at], n2);
    }
  };
  step(feat_.bias());
  for (size_t i = 0; i < n; ++i) step(slots[i]);
  ++updates_;
  return best == label;
}

void OnlineLinear::refresh(size_t at) {
  // The same arithmetic as learn's, so a restored model predicts bit for bit
  // what the saved one did.
  const __m256 inv_alpha = _mm256_set1_ps(1.f / p_.alpha);
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 l1 = _mm256_set1_ps(p_.l1);
  for (uint32_t b = 0; b < stride_; b += 8) {
    __m256 z = _mm256_loadu_ps(&z_[at + b]);
    __m256 root = _mm256_sqrt_ps(_mm256_loadu_ps(&n_[at + b]));
    __m256 shrunk = _mm256_sub_ps(z, _mm256_or_ps(l1, _mm256_and_ps(z, sign)));
    __m256 denom =
        _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_set1_ps(p_.beta), root), inv_alpha), _mm256_set1_ps(p_.l2));
    __m256 nw = _mm256_xor_ps(_mm256_div_ps(shrunk, denom), sign);
    __m256 live = _mm256_cmp_ps(_mm256_andnot_ps(sign, z), l1, _CMP_GT_OQ);
    _mm256_storeu_ps(&w_[at + b], _mm256_and_ps(nw, live));
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
    const float* n = &n_[s * stride_];
    if (std::none_of(n, n + k_, [](float v) { return v != 0.f; })) continue;
    ++touched;
    w.put(static_cast<uint32_t>(s));
    w.out.append(reinterpret_cast<const char*>(&z_[s * stride_]), k_ * sizeof(float));
    w.out.append(reinterpret_cast<const char*>(n), k_ * sizeof(float));
  }
  std::memcpy(&w.out[count_at], &touched, sizeof touched);
  boost::crc_32_type crc;
  crc.process_bytes(w.out.data(), w.out.size());
  w.put(static_cast<uint32_t>(crc.checksum()));
  return std::move(w.out);
}

OnlineLinear OnlineLinear::from_bytes(std::string_view bytes) {
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
  uint32_t k = r.get<uint32_t>();
  if (k < 2 || k > 4096) throw std::runtime_error("implausible class count " + std::to_string(k));
  std::vector<std::string> labels;
  for (uint32_t i = 0; i < k; ++i) labels.push_back(r.str());
  OnlineLinear m(std::move(labels), f, p);
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
    std::memcpy(&m.z_[size_t(s) * m.stride_], r.in.data() + r.at, k * sizeof(float));
    r.at += k * sizeof(float);
    std::memcpy(&m.n_[size_t(s) * m.stride_], r.in.data() + r.at, k * sizeof(float));
    r.at += k * sizeof(float);
    m.refresh(size_t(s) * m.stride_);
  }
  if (r.at != r.in.size()) throw std::runtime_error("trailing bytes after the last slot");
  return m;
}

}  // namespace socstream::online
