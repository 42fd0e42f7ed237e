// The line protocol shared by the server and call(): JSON objects, one per line.
//   request  {"verb":"...","args":[...],"json":bool}
//   chunk    {"chunk":"text"}     streamed output, handed to on_chunk
//   part     {"part":"text"}      a piece of the final output that did not fit one line
//   final    {"exit":N,"output":"text"}
// Big texts are cut into pieces small enough that even fully \u-escaped they stay under
// kMaxLineBytes; the pieces may split a UTF-8 sequence, so both sides parse with invalid UTF-8
// allowed and simply concatenate.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mesh/control/control.hpp"

namespace mesh::control::detail {

inline constexpr std::size_t kPieceBytes = 128 * 1024;
inline constexpr std::size_t kMaxVerbBytes = 64;
inline constexpr std::size_t kMaxArgs = 4096;

// Without the trailing newline; Errc::limit if it would exceed kMaxLineBytes.
Result<std::string> encode_request(const Call& call);
Result<Call> decode_request(std::string_view line);

// Lines, each ending in '\n'.
std::vector<std::string> encode_chunk(std::string_view text);
std::vector<std::string> encode_reply(const Reply& reply);

struct ReplyLine {
  enum Kind { chunk, part, final } kind = final;
  std::string text;  // chunk or part text, or the final output
  int exit_code = 0;
};
Result<ReplyLine> decode_reply_line(std::string_view line);

}  // namespace mesh::control::detail
