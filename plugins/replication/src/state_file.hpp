// Small node-local state files of the plugin (pending.json, tombstones.json): bounded reads
// and crash-safe replacement (write aside, fsync, rename, fsync the directory).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace mesh::repl {

// The whole file, or nullopt with *err set ("" when the file does not exist, which is no
// error: a fresh node has none). Files over max_bytes are refused, not truncated.
std::optional<std::string> read_state_file(const std::filesystem::path& file, std::size_t max_bytes,
                                           std::string* err);

// Replaces `file` with `text` so that a crash leaves either the old or the new content.
// durable: fsync before and after the rename, so the new content survives a power loss too.
bool write_state_file(const std::filesystem::path& file, const std::string& text, bool durable,
                      std::string* err);

}  // namespace mesh::repl
