#include "urls.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace mesh::updater {
namespace {

std::string join(std::string_view source, std::string_view tail) {
  std::string s(source);
  if (!s.empty() && s.back() == '/') s.pop_back();
  return s + std::string(tail);
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  // Four dotted decimal octets.
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

Result<std::string> check_url(std::string_view text) {
  if (text.size() > kMaxUrlLength) {
    return make_error(Errc::invalid,
                      "a URL is at most " + std::to_string(kMaxUrlLength) + " characters");
  }
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) {
    return make_error(Errc::invalid, "'" + std::string(text) + "' is not an absolute URL");
  }
  boost::urls::url u(*parsed);
  u.normalize();
  std::string scheme(u.scheme());
  std::string host(u.encoded_host_address());
  if (scheme != "https" && scheme != "http") {
    return make_error(Errc::invalid, "'" + std::string(text) + "': only https URLs are fetched");
  }
  if (host.empty()) return make_error(Errc::invalid, "'" + std::string(text) + "' has no host");
  // With an authority the path is empty or starts with '/'. Boost.URL 1.81 reads
  // "http://127.0.0.1.evil.com/" as host 127.0.0.1 and path ".evil.com/", while curl would
  // resolve the whole name: refuse what the two could disagree on.
  if (!u.encoded_path().empty() && u.encoded_path().front() != '/') {
    return make_error(Errc::invalid, "'" + std::string(text) + "' has a malformed host");
  }
  if (u.has_userinfo()) {
    return make_error(Errc::invalid,
                      "'" + std::string(text) + "' holds credentials; they do not belong in a URL");
  }
  if (scheme == "http" && !is_loopback_host(host)) {
    return make_error(Errc::invalid, "'" + std::string(text) +
                                         "': plain http is only allowed from a loopback host; "
                                         "use https");
  }
  return std::string(u.buffer());
}

Result<std::string> resolve_url(std::string_view base, std::string_view ref) {
  auto b = check_url(base);
  if (!b) return b.error();
  if (ref.size() > kMaxUrlLength) {
    return make_error(Errc::invalid,
                      "a URL is at most " + std::to_string(kMaxUrlLength) + " characters");
  }
  auto r = boost::urls::parse_uri_reference(ref);
  if (!r) return make_error(Errc::invalid, "'" + std::string(ref) + "' is not a URL");
  auto bu = boost::urls::parse_absolute_uri(*b);
  boost::urls::url out;
  auto rc = boost::urls::resolve(*bu, *r, out);
  if (!rc) {
    return make_error(Errc::invalid,
                      "cannot resolve '" + std::string(ref) + "' against '" + *b + "'");
  }
  return check_url(out.buffer());
}

std::string latest_release_url(std::string_view source) {
  return join(source, "/releases/latest");
}

std::string tag_release_url(std::string_view source, std::string_view tag) {
  return join(source, "/releases/tags/") + std::string(tag);
}

}  // namespace mesh::updater
