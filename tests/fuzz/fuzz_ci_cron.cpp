// libFuzzer target: cron expressions. An expression that parses can fire (the parser refuses
// "never"), and next_after agrees with matches(): the slot it returns matches, lies strictly
// after the given time, and no minute in between matches. A violation traps.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "cron.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using mesh::ci::Cron;
  // The first 4 bytes pick a start time between 1970 and 2106; the rest is the expression.
  std::uint32_t seed = 0;
  if (size >= 4) {
    std::memcpy(&seed, data, 4);
    data += 4;
    size -= 4;
  }
  auto cron = Cron::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!cron) {
    check(!cron.error().message.empty());
    return 0;
  }
  const std::int64_t t = static_cast<std::int64_t>(seed);
  auto next = cron->next_after(t);
  check(next.has_value());
  check(*next > t && *next % 60 == 0 && cron->matches(*next));
  // No earlier slot was skipped (checked minute by minute for up to a day).
  std::int64_t first = (t / 60 + 1) * 60;
  for (std::int64_t m = first; m < *next && m < first + 86'400; m += 60) check(!cron->matches(m));
  bool truncated = false;
  auto slots = cron->slots_between(t, *next + 3'600, 120, &truncated);
  check(!slots.empty() && slots.front() == *next);
  for (std::size_t i = 1; i < slots.size(); ++i)
    check(slots[i] > slots[i - 1] && cron->matches(slots[i]));
  check(slots.size() <= 120);
  return 0;
}
