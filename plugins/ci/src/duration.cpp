#include "duration.hpp"

namespace mesh::ci {

Result<std::uint64_t> parse_duration(std::string_view text, std::uint64_t max_ms) {
  auto bad = [&](std::string why) {
    return fail("bad duration '" + std::string(text.substr(0, 32)) + "': " + why +
                " (write e.g. 90s, 10m, 1h30m)");
  };
  if (text.empty()) return bad("empty");
  constexpr std::string_view kUnits = "hms";
  constexpr std::uint64_t kUnitMs[] = {3'600'000, 60'000, 1'000};
  std::uint64_t total = 0;
  std::size_t next_unit = 0;  // units must come in the order h, m, s, each at most once
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    std::uint64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (i - start >= 7) return bad("number too large");
      n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
      ++i;
    }
    if (i == start) return bad("expected a number");
    if (i == text.size()) return bad("missing unit (h, m or s)");
    auto unit = kUnits.find(text[i]);
    if (unit == std::string_view::npos)
      return bad("unknown unit '" + std::string(1, text[i]) + "'");
    if (unit < next_unit) return bad("units must be in the order h, m, s, each once");
    next_unit = unit + 1;
    total += n * kUnitMs[unit];
    ++i;
  }
  if (total == 0) return bad("must be more than 0");
  if (total > max_ms) return bad("more than the maximum of " + format_duration(max_ms));
  return total;
}

std::string format_duration(std::uint64_t ms) {
  std::uint64_t s = ms / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0 || out.empty()) out += std::to_string(s % 60) + "s";
  return out;
}

}  // namespace mesh::ci
