// The request-side rules of git's smart HTTP protocol, as pure functions: which service a
// query asks for, header matching, Git-Protocol validation. No I/O, so they are unit-tested
// and fuzzed on their own (tests/fuzz/fuzz_repl_smart_http.cpp).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mesh::repl {

using Headers = std::vector<std::pair<std::string, std::string>>;

bool iequals(std::string_view a, std::string_view b);
// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);
// The media type of a Content-Type value, parameters ignored, case-insensitively.
bool media_type_is(std::string_view header, std::string_view want);

enum class QueryService { missing, bad, upload_pack, receive_pack };
// The service=... parameter of an info/refs query; bad when repeated or unknown.
QueryService query_service(std::string_view query);

// Git-Protocol as accepted: at most 256 bytes of ':'-separated, non-empty items of
// [A-Za-z0-9._=-]. Empty is valid (absent).
bool valid_git_protocol(std::string_view value);
// As git's server (determine_protocol_version_server): any item "version=2".
bool protocol_v2(std::string_view git_protocol);

// The headers git-http-backend sends on every smart response: nothing may cache it.
Headers git_headers(std::string content_type);

// Text from outside (git's stderr, a method name) reduced to one printable line of at most
// 512 bytes, for the log.
std::string one_line(std::string_view s);

// A browser asking for a repo page: an Accept header that names text/html.
bool accepts_html(std::string_view accept);

}  // namespace mesh::repl
