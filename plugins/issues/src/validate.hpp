// Validation of every user string an op carries. Each check returns nothing when the value is
// fine and a Problem (a short reason for counters plus a message for people) when it is not.
// The glue runs the same checks before it publishes, so a user gets the error at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mesh::issues {

struct Problem {
  std::string reason;   // stable token: "title", "body", "label", "repo", ... (docs/issues.md)
  std::string message;  // one line for logs and the CLI
};
using Check = std::optional<Problem>;

// Well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool valid_utf8(std::string_view text);

// ARCHITECTURE.md §3: [A-Za-z0-9][A-Za-z0-9._-]{0,99}, no "..", no ".git"/".lock" suffix.
bool valid_repo_name(std::string_view name);
// A full issue, comment or tag id: 32 lower-case hex digits (ids.hpp).
bool valid_full_id(std::string_view id);
// A commit id: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
bool valid_commit_id(std::string_view id);

Check check_repo(std::string_view repo);
// Non-empty, not only spaces, at most 256 bytes of UTF-8 without control characters (C0, DEL,
// C1) or bidirectional overrides (they make a title read differently from what it is).
Check check_title(std::string_view title);
// At most 60 KiB of UTF-8; tab, newline and carriage return are the only control characters
// (an ESC in a body would reach the terminal of whoever runs `mesh issues show`).
// `what` names the field in the message ("body", "comment").
Check check_body(std::string_view body, std::string_view what);
// 1..64 bytes of UTF-8, no control characters or bidi overrides, no leading or trailing space,
// no ',' (filters list labels with commas), not starting with '+' or '-' (the CLI's
// `issues label +L -L`).
Check check_label(std::string_view label);
// [A-Za-z0-9][A-Za-z0-9._:@-]{0,127}: a member's name or its "mesh:..." id.
Check check_assignee(std::string_view who);

}  // namespace mesh::issues
