// Percent-decoding of request parts, through Boost.URL. Each function refuses malformed input
// (a bad escape, too much text, too many fields) with Errc::invalid or Errc::limit instead of
// guessing, so a handler never sees half-decoded text.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "mesh/base/result.hpp"

namespace mesh::http {

// Decoded name -> value pairs; several values of one name keep their order.
using Params = std::multimap<std::string, std::string>;

struct DecodeLimits {
  std::size_t max_bytes = 64 * 1024;  // of the encoded text
  std::size_t max_params = 256;
};

// One path segment or a run of segments ("a%2Fb" -> "a/b"). '+' stays '+' (only forms mean a
// space by it). A decoded NUL is refused: no name or path in mesh may hold one.
Result<std::string> decode_path_text(std::string_view encoded, std::size_t max_bytes = 8 * 1024);

// A query (the text after '?', without it): "a=1&b=x%20y&b=z" -> {a:1, b:"x y", b:z}. '+' is a
// space, as browsers send forms with method GET. A field without '=' has an empty value; empty
// fields ("a=1&&b=2") are skipped.
Result<Params> parse_query(std::string_view query, DecodeLimits limits = {});

// An application/x-www-form-urlencoded request body (the same grammar as parse_query).
Result<Params> parse_form(std::string_view body, DecodeLimits limits = {});

// The first value of `name`, if any.
std::optional<std::string> first_value(const Params& params, std::string_view name);

}  // namespace mesh::http
