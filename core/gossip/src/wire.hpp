// Bounds-checked big-endian writer and reader shared by the gossip encodings (internal).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "mesh/base/encoding.hpp"

namespace mesh::gossip::wire {

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void raw(std::span<const std::uint8_t> data) {
    out_.insert(out_.end(), data.begin(), data.end());
  }
  void raw(std::string_view s) { raw(as_bytes(s)); }

 private:
  Bytes& out_;
};

// Every read fails (returns false) instead of running past the end; callers stop at the first
// failure, so a truncated input can never be mistaken for a shorter valid one.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}
  bool u8(std::uint8_t& v);
  bool u16(std::uint16_t& v);
  bool u32(std::uint32_t& v);
  bool u64(std::uint64_t& v);
  bool raw(std::size_t n, std::span<const std::uint8_t>& out);
  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t position() const { return pos_; }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

std::uint32_t load_be32(const std::uint8_t* p);
void store_be32(std::uint8_t* p, std::uint32_t v);

}  // namespace mesh::gossip::wire
