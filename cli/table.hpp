// Aligned plain-text tables for human output: a heading row, columns two spaces apart.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace mesh::cli {

// Display width of UTF-8 text, counting code points (node names may be any UTF-8).
inline std::size_t text_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

class Table {
 public:
  // An empty header (all cells "") leaves out the heading row, e.g. for `mesh help`.
  explicit Table(std::vector<std::string> header, std::string indent = "")
      : rows_{std::move(header)}, indent_(std::move(indent)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() <= 1; }

  std::string render() const {
    bool heading = std::any_of(rows_[0].begin(), rows_[0].end(),
                               [](const std::string& h) { return !h.empty(); });
    std::vector<std::size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (std::size_t i = 0; i < row.size(); ++i) {
        width[i] = std::max(width[i], text_width(row[i]));
      }
    }
    std::string out;
    for (std::size_t r = heading ? 0 : 1; r < rows_.size(); ++r) {
      const auto& row = rows_[r];
      std::string line = indent_;
      for (std::size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - text_width(row[i]) + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::string indent_;
};

}  // namespace mesh::cli
