// What `mesh issues list` and `mesh issues show` print for people: aligned tables and short
// sentences (the JSON forms are issue_json.hpp's).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "issue_json.hpp"
#include "query.hpp"

namespace mesh::issues {

// "just now", "42s ago", "5m ago", "3h ago", "2d ago", then the date (UTC).
std::string ago(std::uint64_t then_ms, std::uint64_t now_ms);

// At most `width` code points of UTF-8 (the last one an ellipsis when cut).
std::string fit(std::string_view text, std::size_t width);

// Rows padded to the widest cell of each column (widths in code points), two spaces apart;
// the last column is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows);

std::string list_text(const std::vector<IssueView>& views, const NameOf& name_of,
                      std::uint64_t now_ms);
std::string show_text(const IssueView& view, const NameOf& name_of, std::uint64_t now_ms);

// Terminal-safe text of a body: CR and CRLF become LF (a lone CR would let a body overwrite
// what the terminal showed before it).
std::string terminal_text(std::string_view body);

}  // namespace mesh::issues
