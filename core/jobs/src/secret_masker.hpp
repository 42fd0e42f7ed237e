// Masks secret values in a job's output stream before anyone sees it (live chunks, stored
// logs, the submitting plugin). Each secret is looked for in the forms it typically leaks in:
//
//   raw             the value itself, and each line of a multi-line value (8 bytes or more)
//   base64          standard and URL-safe alphabets, with and without padding, and also the
//                   part of the value's encoding that shows inside the base64 of a longer
//                   stream ("user:" + token, as in an HTTP Basic header): the value can start
//                   at any of the three byte offsets modulo 3 there, and for each the
//                   characters that depend on the value alone are masked. The one or two
//                   characters at each edge that mix in neighbouring bytes stay visible.
//   URL-encoded     percent-encoding of every byte outside [A-Za-z0-9-._~], with upper- and
//                   lower-case hex, and the form variant with '+' for a space
//
// Every stretch of output covered by any match becomes "***". A value split across two chunks
// is still found: feed() holds back at most (longest pattern - 1) bytes until it knows they are
// clean, and finish() releases them at the end. The output does not depend on how the stream
// was chunked.
//
// Secrets shorter than kMinSecretBytes are ignored: such short values occur by chance all over
// a log, masking them would mangle it, and where the masks fell would give the value away.
// Other transformations (hex, gzip, a value printed in pieces, reversed, JSON-escaped) are
// not recognised.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::jobs {

class SecretMasker {
 public:
  static constexpr std::size_t kMinSecretBytes = 4;
  static constexpr std::size_t kMinLineBytes = 8;
  static constexpr std::string_view kMask = "***";

  explicit SecretMasker(const std::vector<std::string>& secrets);

  // Masked output that is safe to show now (possibly empty while a match could still start).
  std::string feed(std::string_view chunk);
  // Everything still held back, masked. After finish() the masker passes nothing more.
  std::string finish();

  // The forms searched for one secret (empty if it is too short), deduplicated.
  static std::vector<std::string> patterns_for(std::string_view secret);

  std::size_t pattern_count() const { return patterns_.size(); }
  std::size_t longest_pattern() const { return longest_; }
  std::size_t held() const { return buf_.size(); }

 private:
  std::string process(std::size_t emit_until);

  std::vector<std::string> patterns_;
  std::array<std::vector<std::uint32_t>, 256> by_first_byte_;  // longest first
  std::size_t longest_ = 0;
  std::string buf_;  // held bytes; buf_[0] is at absolute offset base_
  std::uint64_t base_ = 0;
  std::uint64_t cover_end_ = 0;  // end of the furthest match found so far (absolute)
  bool masking_ = false;         // the last output was a mask
  bool finished_ = false;
};

}  // namespace mesh::jobs
