// Unified diffs in `git diff` format: Myers' O(ND) line diff (E. Myers, "An O(ND) Difference
// Algorithm and Its Variations", 1986) between the common prefix and suffix, hunks with three
// lines of context as git prints them.

#include <algorithm>
#include <cstdio>

#include "service/markers/markers.hpp"

namespace ferry::markers {

namespace {

constexpr int k_context = 3;  // git diff's default -U3
// Beyond this many differing lines the middle is shown as one replacement: still a correct
// patch, and the diff stays O(N + D^2) in time and memory on hostile inputs.
constexpr int k_max_edit_distance = 2000;

// Lines with their terminator ("\n" or "\r\n"); the last one may have none.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t nl = s.find('\n', i);
    const std::size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

enum class op_kind { equal, remove, insert };
struct op {
  op_kind kind;
  int a;  // index in the old lines (equal, remove)
  int b;  // index in the new lines (equal, insert)
};

// Appends the shortest edit script turning a[a0,a1) into b[b0,b1).
void myers(const std::vector<std::string_view>& a, int a0, int a1,
           const std::vector<std::string_view>& b, int b0, int b1, std::vector<op>& out) {
  const int n = a1 - a0;
  const int m = b1 - b0;
  // trace[d][k + d + 1] = furthest x on diagonal k before round d (k in [-d-1, d+1]).
  std::vector<std::vector<int>> trace;
  std::vector<int> v(static_cast<std::size_t>(2 * (n + m) + 3), 0);
  const int off = n + m + 1;
  int found = -1;
  for (int d = 0; d <= n + m && d <= k_max_edit_distance; ++d) {
    trace.emplace_back(v.begin() + (off - d - 1), v.begin() + (off + d + 2));
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
                                                                       : v[off + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[a0 + x] == b[b0 + y]) {
        ++x;
        ++y;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) {
      break;
    }
  }
  if (found < 0) {
    for (int i = 0; i < n; ++i) {
      out.push_back({op_kind::remove, a0 + i, 0});
    }
    for (int j = 0; j < m; ++j) {
      out.push_back({op_kind::insert, 0, b0 + j});
    }
    return;
  }
  std::vector<op> rev;
  int x = n;
  int y = m;
  for (int d = found; d > 0; --d) {
    const auto& t = trace[static_cast<std::size_t>(d)];
    auto at = [&](int k) { return t[static_cast<std::size_t>(k + d + 1)]; };
    const int k = x - y;
    const int prev_k = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    const int prev_x = at(prev_k);
    const int prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      --x;
      --y;
      rev.push_back({op_kind::equal, a0 + x, b0 + y});
    }
    if (x == prev_x) {
      rev.push_back({op_kind::insert, 0, b0 + prev_y});
    } else {
      rev.push_back({op_kind::remove, a0 + prev_x, 0});
    }
    x = prev_x;
    y = prev_y;
  }
  while (x > 0 && y > 0) {
    --x;
    --y;
    rev.push_back({op_kind::equal, a0 + x, b0 + y});
  }
  out.insert(out.end(), rev.rbegin(), rev.rend());
}

// git's quoting of unusual path names (quote_c_style; core.quotePath defaults to true).
std::string quote_path(std::string_view prefix, std::string_view path) {
  bool needs = false;
  for (unsigned char c : path) {
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) {
      needs = true;
      break;
    }
  }
  std::string out;
  if (!needs) {
    out.append(prefix).append(path);
    return out;
  }
  out += '"';
  out.append(prefix);
  for (unsigned char c : path) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// "-12,3" in a hunk header: git omits the count when it is 1, and an empty side names the
// line before it.
std::string range(int start0, int count) {
  if (count == 0) {
    return std::to_string(start0) + ",0";
  }
  if (count == 1) {
    return std::to_string(start0 + 1);
  }
  return std::to_string(start0 + 1) + "," + std::to_string(count);
}

void emit_line(std::string& out, char sign, std::string_view line) {
  out += sign;
  out.append(line);
  if (line.empty() || line.back() != '\n') {
    out += "\n\\ No newline at end of file\n";
  }
}

void diff_one(const file_change& c, std::string& out) {
  if (c.old_content == c.new_content) {
    return;
  }
  const auto a = split_lines(c.old_content);
  const auto b = split_lines(c.new_content);
  const int na = static_cast<int>(a.size());
  const int nb = static_cast<int>(b.size());
  int pre = 0;
  while (pre < na && pre < nb && a[pre] == b[pre]) {
    ++pre;
  }
  int suf = 0;
  while (suf < na - pre && suf < nb - pre && a[na - 1 - suf] == b[nb - 1 - suf]) {
    ++suf;
  }
  std::vector<op> ops;
  for (int i = 0; i < pre; ++i) {
    ops.push_back({op_kind::equal, i, i});
  }
  myers(a, pre, na - suf, b, pre, nb - suf, ops);
  for (int i = 0; i < suf; ++i) {
    ops.push_back({op_kind::equal, na - suf + i, nb - suf + i});
  }

  // Positions before each op, for hunk headers.
  std::vector<int> apos(ops.size() + 1);
  std::vector<int> bpos(ops.size() + 1);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    apos[i + 1] = apos[i] + (ops[i].kind != op_kind::insert ? 1 : 0);
    bpos[i + 1] = bpos[i] + (ops[i].kind != op_kind::remove ? 1 : 0);
  }

  out += "diff --git " + quote_path("a/", c.path) + " " + quote_path("b/", c.path) + "\n";
  out += "--- " + quote_path("a/", c.path) + "\n";
  out += "+++ " + quote_path("b/", c.path) + "\n";

  const int total = static_cast<int>(ops.size());
  int i = 0;
  while (i < total) {
    if (ops[i].kind == op_kind::equal) {
      ++i;
      continue;
    }
    // A hunk: from this change, extend while the next change is within 2 * context lines.
    const int first = i;
    int last = i;  // last change op
    int j = i + 1;
    while (j < total) {
      if (ops[j].kind != op_kind::equal) {
        last = j;
        ++j;
        continue;
      }
      int run = 0;
      while (j + run < total && ops[j + run].kind == op_kind::equal) {
        ++run;
      }
      if (j + run < total && run <= 2 * k_context) {
        j += run;
        continue;
      }
      break;
    }
    const int begin = std::max(0, first - k_context);
    const int end = std::min(total, last + 1 + k_context);
    const int a_count = apos[end] - apos[begin];
    const int b_count = bpos[end] - bpos[begin];
    out += "@@ -" + range(apos[begin], a_count) + " +" + range(bpos[begin], b_count) + " @@\n";
    for (int k = begin; k < end; ++k) {
      const op& o = ops[k];
      switch (o.kind) {
        case op_kind::equal:
          emit_line(out, ' ', a[o.a]);
          break;
        case op_kind::remove:
          emit_line(out, '-', a[o.a]);
          break;
        case op_kind::insert:
          emit_line(out, '+', b[o.b]);
          break;
      }
    }
    i = end;
  }
}

}  // namespace

std::string unified_diff(std::span<const file_change> changes) {
  std::string out;
  for (const auto& c : changes) {
    diff_one(c, out);
  }
  return out;
}

}  // namespace ferry::markers
