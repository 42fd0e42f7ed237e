// Board positions: variable-length string fractional indexes (never floats: the predecessor's
// float keys ran out after about 50 moves). Comparing two keys as byte strings gives the order.
//
// A key is an integer part followed by an optional fraction, over the 62 digits 0-9 A-Z a-z
// (in ASCII order). The integer part's first character says how many digits follow: 'a' one,
// 'b' two ... 'z' 26; 'Z' one, 'Y' two ... 'A' 26 for the integers below "a0". So appending at
// the end or the start of a board grows keys logarithmically, and inserting into one gap over
// and over grows the fraction by about one digit per five or six moves (docs/issues.md has the
// measured figures). A fraction never ends in '0', so there is always room below a key.
//
// Jitter: where a key may be chosen from a range, key_between picks at random in the middle
// of it, so two nodes that put different cards into the same gap at the same time almost
// always get different keys. Equal keys are still fine: the board breaks the tie by issue id,
// and plan_move (planner.hpp) re-keys a neighbour when it must insert between two equal keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "validate.hpp"

namespace mesh::issues {

// Uniform 64-bit random values (the glue passes libsodium's randombytes; tests pass a seeded
// generator).
using Random = std::function<std::uint64_t()>;

bool valid_order_key(std::string_view key);
Check check_order_key(std::string_view key);

// A key strictly between a and b; an empty a means "before everything", an empty b "after
// everything". nullopt if a or b is invalid, if a >= b (no key fits between equal keys), or
// if the key would be longer than kMaxOrderKey (then re-space: spread_keys).
std::optional<std::string> key_between(std::string_view a, std::string_view b,
                                       const Random& random);

// n increasing keys with room between them, as short as possible: for re-spacing a board.
std::vector<std::string> spread_keys(std::size_t n);

}  // namespace mesh::issues
