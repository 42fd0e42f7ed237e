#include "receive_commands.hpp"

#include <algorithm>

#include "pkt_line.hpp"

namespace mesh::repl {

void CommandSniffer::feed(std::string_view d) {
  while (!done_ && !d.empty()) {
    if (header_.size() < 4) {
      std::size_t n = std::min(4 - header_.size(), d.size());
      header_.append(d.substr(0, n));
      d.remove_prefix(n);
      if (header_.size() == 4) {
        auto len = pkt_length(header_);
        // The flush ends the commands; special packets and garbage end the sniffing.
        if (!len || *len <= 4 || *len > kPktMax) {
          done_ = true;
          return;
        }
        need_ = *len - 4;
        line_.clear();
      }
      continue;
    }
    std::size_t n = std::min(need_ - line_.size(), d.size());
    line_.append(d.substr(0, n));
    d.remove_prefix(n);
    if (line_.size() == need_) {
      packet(line_);
      header_.clear();
      line_.clear();
    }
  }
}

void CommandSniffer::packet(std::string_view line) {
  if (first_) {
    first_ = false;
    std::size_t nul = line.find('\0');
    if (nul != std::string_view::npos) {
      std::string_view caps = line.substr(nul + 1);
      line = line.substr(0, nul);
      if (caps.ends_with('\n')) caps.remove_suffix(1);
      std::size_t i = 0;
      while (i <= caps.size()) {
        std::size_t j = caps.find(' ', i);
        if (j == std::string_view::npos) j = caps.size();
        std::string_view cap = caps.substr(i, j - i);
        if (cap == "side-band-64k") {
          sideband_ = 2;
        } else if (cap == "side-band" && sideband_ == 0) {
          sideband_ = 1;
        } else if (cap == "report-status" || cap == "report-status-v2") {
          report_ = true;
        }
        i = j + 1;
      }
    }
  }
  if (line.ends_with('\n')) line.remove_suffix(1);
  // "<old> <new> <ref>"; "shallow <oid>" and push-options are not commands.
  if (line.size() < 83 || line[40] != ' ' || line[81] != ' ') return;
  if (commands_.size() >= kMaxSniffedCommands) {
    more_ = true;
    return;
  }
  commands_.push_back({std::string(line.substr(0, 40)), std::string(line.substr(41, 40)),
                       std::string(line.substr(82))});
}

}  // namespace mesh::repl
