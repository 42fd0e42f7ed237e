#include "wire.hpp"

namespace mesh::gossip::wire {

void Writer::u16(std::uint16_t v) {
  u8(static_cast<std::uint8_t>(v >> 8));
  u8(static_cast<std::uint8_t>(v));
}

void Writer::u32(std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) u8(static_cast<std::uint8_t>(v >> shift));
}

void Writer::u64(std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) u8(static_cast<std::uint8_t>(v >> shift));
}

bool Reader::raw(std::size_t n, std::span<const std::uint8_t>& out) {
  if (n > remaining()) return false;
  out = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::u8(std::uint8_t& v) {
  if (remaining() < 1) return false;
  v = data_[pos_++];
  return true;
}

bool Reader::u16(std::uint16_t& v) {
  std::span<const std::uint8_t> b;
  if (!raw(2, b)) return false;
  v = static_cast<std::uint16_t>((b[0] << 8) | b[1]);
  return true;
}

bool Reader::u32(std::uint32_t& v) {
  std::span<const std::uint8_t> b;
  if (!raw(4, b)) return false;
  v = load_be32(b.data());
  return true;
}

bool Reader::u64(std::uint64_t& v) {
  std::span<const std::uint8_t> b;
  if (!raw(8, b)) return false;
  v = 0;
  for (auto byte : b) v = (v << 8) | byte;
  return true;
}

std::uint32_t load_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void store_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace mesh::gossip::wire
