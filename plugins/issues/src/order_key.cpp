#include "order_key.hpp"

#include "limits.hpp"

namespace mesh::issues {
namespace {

constexpr std::string_view kDigits =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int kBase = 62;
constexpr int kMaxStep = 8;  // integer steps are 1..8 at random
const std::string kSmallestInteger = "A" + std::string(26, '0');

int value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c >= 'a' && c <= 'z') return c - 'a' + 36;
  return -1;
}

char digit(int v) {
  return kDigits[static_cast<std::size_t>(v)];
}

// Length of the integer part that starts with head (head included); 0 if head is no head.
std::size_t integer_length(char head) {
  if (head >= 'a' && head <= 'z') return static_cast<std::size_t>(head - 'a') + 2;
  if (head >= 'A' && head <= 'Z') return static_cast<std::size_t>('Z' - head) + 2;
  return 0;
}

// The next integer, or nullopt past the largest ("z" + 26 'z').
std::optional<std::string> increment(std::string n) {
  for (std::size_t i = n.size() - 1; i >= 1; --i) {
    if (n[i] != 'z') {
      n[i] = digit(value(n[i]) + 1);
      return n;
    }
    n[i] = '0';
  }
  // Every digit overflowed: the next head, one digit longer above "a0", one shorter below it.
  char head = n[0];
  if (head == 'Z') return std::string("a0");
  if (head == 'z') return std::nullopt;
  ++head;
  std::string digits = n.substr(1);
  if (head > 'a') {
    digits.push_back('0');
  } else {
    digits.pop_back();
  }
  return head + digits;
}

// The previous integer, or nullopt below the smallest ("A" + 26 '0').
std::optional<std::string> decrement(std::string n) {
  for (std::size_t i = n.size() - 1; i >= 1; --i) {
    if (n[i] != '0') {
      n[i] = digit(value(n[i]) - 1);
      return n;
    }
    n[i] = 'z';
  }
  char head = n[0];
  if (head == 'a') return std::string("Zz");
  if (head == 'A') return std::nullopt;
  --head;
  std::string digits = n.substr(1);
  if (head < 'Z') {
    digits.push_back('z');
  } else {
    digits.pop_back();
  }
  return head + digits;
}

std::optional<std::string> step_integer(std::string n, int steps, bool up) {
  std::optional<std::string> cur = std::move(n);
  for (int i = 0; i < steps && cur; ++i) cur = up ? increment(*cur) : decrement(*cur);
  return cur;
}

// A digit in (lo, hi), at random among the middle half when there is room for one, so keys
// stay short and concurrent picks rarely coincide.
int pick(int lo, int hi, const Random& random) {
  int width = hi - lo - 1;  // candidates lo+1 .. hi-1, at least one
  int margin = width > 3 ? width / 4 : 0;
  int count = width - 2 * margin;
  return lo + 1 + margin + static_cast<int>(random() % static_cast<std::uint64_t>(count));
}

// A fraction strictly between fractions a and b (b empty: no upper bound); a < b, and neither
// ends in '0'. The result never ends in '0' either.
std::string midpoint(std::string_view a, std::string_view b, const Random& random) {
  std::string out;
  bool bounded = !b.empty();  // still equal to b's prefix, so b limits the next digit
  for (std::size_t i = 0;; ++i) {
    int lo = i < a.size() ? value(a[i]) : 0;
    int hi = bounded ? value(b[i]) : kBase;
    if (hi - lo > 1) {
      out.push_back(digit(pick(lo, hi, random)));
      return out;
    }
    out.push_back(digit(lo));
    if (hi > lo) bounded = false;
  }
}

int random_steps(const Random& random) {
  return 1 + static_cast<int>(random() % static_cast<std::uint64_t>(kMaxStep));
}

std::optional<std::string> between_checked(std::string_view a, std::string_view b,
                                           const Random& random) {
  if (a.empty() && b.empty()) return step_integer("a0", random_steps(random) - 1, true);
  if (a.empty()) {
    std::string ib(b.substr(0, integer_length(b[0])));
    std::string_view fb = b.substr(ib.size());
    if (ib == kSmallestInteger) return ib + midpoint("", fb, random);
    for (int steps = random_steps(random); steps >= 1; --steps) {
      if (auto d = step_integer(ib, steps, false); d && *d != kSmallestInteger) return d;
    }
    // ib is one above the smallest integer: a fraction of the smallest one fits below it.
    return kSmallestInteger + midpoint("", "", random);
  }
  std::string ia(a.substr(0, integer_length(a[0])));
  std::string_view fa = a.substr(ia.size());
  if (!b.empty()) {
    std::string_view ib = b.substr(0, integer_length(b[0]));
    if (ia == ib) return ia + midpoint(fa, b.substr(ib.size()), random);
  }
  for (int steps = random_steps(random); steps >= 1; --steps) {
    auto c = step_integer(ia, steps, true);
    if (c && (b.empty() || *c < b)) return c;
  }
  return ia + midpoint(fa, "", random);
}

}  // namespace

bool valid_order_key(std::string_view key) {
  if (key.size() < 2 || key.size() > kMaxOrderKey) return false;
  std::size_t int_len = integer_length(key[0]);
  if (int_len == 0 || key.size() < int_len) return false;
  for (char c : key.substr(1)) {
    if (value(c) < 0) return false;
  }
  if (key.size() == int_len) return key != kSmallestInteger;
  return key.back() != '0';
}

Check check_order_key(std::string_view key) {
  if (valid_order_key(key)) return std::nullopt;
  return Problem{"order",
                 "invalid order key (an integer part and a fraction over 0-9 A-Z a-z, "
                 "not ending in '0', at most " +
                     std::to_string(kMaxOrderKey) + " bytes)"};
}

std::optional<std::string> key_between(std::string_view a, std::string_view b,
                                       const Random& random) {
  if (!a.empty() && !valid_order_key(a)) return std::nullopt;
  if (!b.empty() && !valid_order_key(b)) return std::nullopt;
  if (!a.empty() && !b.empty() && !(a < b)) return std::nullopt;
  auto key = between_checked(a, b, random);
  // The construction guarantees both; checking keeps a bug from ever publishing a bad key.
  if (!key || !valid_order_key(*key)) return std::nullopt;
  if ((!a.empty() && !(a < *key)) || (!b.empty() && !(*key < b))) return std::nullopt;
  return key;
}

std::vector<std::string> spread_keys(std::size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  std::string key = "a0";
  for (std::size_t i = 0; i < n; ++i) {
    keys.push_back(key);
    // Four integers apart: room for three cards between any two before a fraction is needed.
    key = *step_integer(key, 4, true);  // 62^26 integers: never runs out for a board
  }
  return keys;
}

}  // namespace mesh::issues
