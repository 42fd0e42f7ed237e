// Percent-decoding through Boost.URL (see url.hpp).
#include "mesh/http/url.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>

namespace mesh::http {

namespace urls = boost::urls;

Result<std::string> decode_path_text(std::string_view encoded, std::size_t max_bytes) {
  if (encoded.size() > max_bytes) {
    return make_error(Errc::limit, "path text over " + std::to_string(max_bytes) + " bytes");
  }
  auto pct = urls::make_pct_string_view(encoded);
  if (!pct) return make_error(Errc::invalid, "malformed percent-escape in the path");
  std::string out = pct->decode();
  if (out.find('\0') != std::string::npos) {
    return make_error(Errc::invalid, "a NUL (%00) in the path");
  }
  return out;
}

namespace {

Result<Params> parse_fields(std::string_view text, DecodeLimits limits, std::string_view what) {
  if (text.size() > limits.max_bytes) {
    return make_error(Errc::limit,
                      std::string(what) + " over " + std::to_string(limits.max_bytes) + " bytes");
  }
  Params out;
  if (text.empty()) return out;
  // Validated first, so the constructor below (which throws on bad input) cannot throw.
  if (!urls::parse_query(text)) return make_error(Errc::invalid, "malformed " + std::string(what));
  urls::encoding_opts opts;
  opts.space_as_plus = true;
  urls::params_view params(text, opts);
  for (auto it = params.begin(); it != params.end(); ++it) {
    auto param = *it;
    if (param.key.empty() && !param.has_value) continue;  // "a=1&&b=2"
    if (out.size() >= limits.max_params) {
      return make_error(Errc::limit, std::string(what) + " with more than " +
                                         std::to_string(limits.max_params) + " fields");
    }
    if (param.key.find('\0') != std::string::npos || param.value.find('\0') != std::string::npos) {
      return make_error(Errc::invalid, "a NUL (%00) in the " + std::string(what));
    }
    out.emplace(std::move(param.key), std::move(param.value));
  }
  return out;
}

}  // namespace

Result<Params> parse_query(std::string_view query, DecodeLimits limits) {
  return parse_fields(query, limits, "query");
}

Result<Params> parse_form(std::string_view body, DecodeLimits limits) {
  return parse_fields(body, limits, "form body");
}

std::optional<std::string> first_value(const Params& params, std::string_view name) {
  auto it = params.find(std::string(name));
  if (it == params.end()) return std::nullopt;
  return it->second;
}

}  // namespace mesh::http
