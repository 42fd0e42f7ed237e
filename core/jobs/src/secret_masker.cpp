#include "secret_masker.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace mesh::jobs {
namespace {

std::string base64(std::string_view bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// The characters of base64(prefix || value || anything) that depend on the value alone, when
// the value starts `shift` bytes (0..2) after a 3-byte boundary. Character i carries bits
// [6i, 6i+6) of the stream; the value holds bits [8 shift, 8 (shift + n)).
std::string inner_base64(std::string_view value, std::size_t shift, int variant) {
  std::string stream(shift, '\0');
  stream.append(value);
  std::string enc = base64(stream, variant);
  std::size_t first = (8 * shift + 5) / 6;
  std::size_t end = (8 * (shift + value.size())) / 6;  // one past the last whole character
  if (end <= first) return {};
  return enc.substr(first, end - first);
}

std::string percent_encode(std::string_view value, bool lower, bool plus_for_space) {
  static constexpr char kUpper[] = "0123456789ABCDEF";
  static constexpr char kLower[] = "0123456789abcdef";
  const char* hex = lower ? kLower : kUpper;
  std::string out;
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else if (c == ' ' && plus_for_space) {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> SecretMasker::patterns_for(std::string_view secret) {
  std::set<std::string> out;
  if (secret.size() < kMinSecretBytes) return {};
  out.emplace(secret);
  if (secret.find('\n') != std::string_view::npos) {
    std::size_t start = 0;
    while (start < secret.size()) {
      std::size_t nl = secret.find('\n', start);
      std::string_view line = secret.substr(start, nl == std::string_view::npos ? nl : nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() >= kMinLineBytes) out.emplace(line);
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  }
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_URLSAFE}) {
    out.insert(base64(secret, variant));
    int unpadded = variant == sodium_base64_VARIANT_ORIGINAL
                       ? sodium_base64_VARIANT_ORIGINAL_NO_PADDING
                       : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    out.insert(base64(secret, unpadded));
    for (std::size_t shift = 0; shift < 3; ++shift) {
      std::string inner = inner_base64(secret, shift, variant);
      if (inner.size() >= kMinSecretBytes) out.insert(std::move(inner));
    }
  }
  for (bool lower : {false, true}) {
    for (bool plus : {false, true}) out.insert(percent_encode(secret, lower, plus));
  }
  return {out.begin(), out.end()};
}

SecretMasker::SecretMasker(const std::vector<std::string>& secrets) {
  std::set<std::string> all;
  for (const auto& s : secrets) {
    for (auto& p : patterns_for(s)) all.insert(std::move(p));
  }
  patterns_.assign(all.begin(), all.end());
  for (std::uint32_t i = 0; i < patterns_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(patterns_[i][0])].push_back(i);
    longest_ = std::max(longest_, patterns_[i].size());
  }
  for (auto& list : by_first_byte_) {
    std::sort(list.begin(), list.end(), [&](std::uint32_t a, std::uint32_t b) {
      return patterns_[a].size() > patterns_[b].size();
    });
  }
}

std::string SecretMasker::feed(std::string_view chunk) {
  if (finished_) return {};
  buf_.append(chunk);
  // A byte is final once every match that could cover it has been seen in full: hold back the
  // last longest_ - 1 bytes.
  std::size_t hold = longest_ == 0 ? 0 : longest_ - 1;
  if (buf_.size() <= hold) return {};
  return process(buf_.size() - hold);
}

std::string SecretMasker::finish() {
  if (finished_) return {};
  finished_ = true;
  return process(buf_.size());
}

// Emits buf_[0, emit_until). Only patterns that fit in buf_ are compared; before the end,
// emit_until leaves room for the longest, so each position sees the same as in one big chunk.
std::string SecretMasker::process(std::size_t emit_until) {
  std::string out;
  out.reserve(emit_until);
  for (std::size_t i = 0; i < emit_until; ++i) {
    const std::uint64_t pos = base_ + i;
    for (std::uint32_t idx : by_first_byte_[static_cast<unsigned char>(buf_[i])]) {
      const std::string& p = patterns_[idx];
      if (i + p.size() > buf_.size()) continue;
      if (std::memcmp(buf_.data() + i, p.data(), p.size()) == 0) {
        cover_end_ = std::max(cover_end_, pos + p.size());
        break;  // the longest match at this position
      }
    }
    if (pos < cover_end_) {
      if (!masking_) out += kMask;
      masking_ = true;
    } else {
      out += buf_[i];
      masking_ = false;
    }
  }
  buf_.erase(0, emit_until);
  base_ += emit_until;
  return out;
}

}  // namespace mesh::jobs
