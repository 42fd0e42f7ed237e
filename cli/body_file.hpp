// `mesh issues ... --body-file F`: the CLI reads the file itself, so F may be relative to the
// user's directory or `-` for standard input (the daemon runs elsewhere and has no stdin), and
// sends the text as `--body`. ../shared/CLI.md, "Issues".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mesh::cli {

// Above the issues' body limit (60 KiB), so the daemon's own message says how large it was,
// and far below the control socket's line limit.
inline constexpr std::size_t kMaxBodyFileBytes = 256 * 1024;

// Replaces every `--body-file F` / `--body-file=F` before a `--` with `--body TEXT`. False
// (and why in *error, a usage error) if F cannot be read or is larger than the limit.
bool inline_body_files(std::vector<std::string>& args, std::string* error);

}  // namespace mesh::cli
