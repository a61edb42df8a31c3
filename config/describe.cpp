// describe_keys: the directive table as aligned text for `--help`.
#include <algorithm>
#include <array>
#include <vector>

#include "config/config.hpp"
#include "config/directives.hpp"
#include "config/example.hpp"
#include "config/values.hpp"

namespace rtmpt::config {
namespace {

constexpr std::size_t kHelpIndent = 4;
constexpr std::size_t kHelpWidth = 96;

void append_wrapped(std::string& out, std::string_view text, std::size_t indent, std::size_t width) {
    out += wrap(text, std::string(indent, ' '), width);
}

[[nodiscard]] std::string shown_default(const Directive& d) {
    return d.default_text.empty() ? "\"\"" : std::string(d.default_text);
}

}  // namespace

std::string describe_keys() {
    using Row = std::array<std::string, 4>;
    std::vector<Row> rows{{"KEY", "TYPE", "DEFAULT", "ALLOWED"}};
    for (const Directive& d : directives()) {
        rows.push_back(
            {std::string(d.name), std::string(type_name(d.type)), shown_default(d), describe_bounds(d)});
    }
    std::array<std::size_t, 4> widths{};
    for (const Row& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }

    std::string out;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < rows[r].size(); ++i) {
            line += rows[r][i];
            if (i + 1 < rows[r].size()) line += std::string(widths[i] - rows[r][i].size() + 2, ' ');
        }
        out += line + "\n";
        if (r > 0) {
            const Directive& d = directives()[r - 1];
            std::string help(d.help);
            if (!d.reloadable) help += " Changes need a restart.";
            append_wrapped(out, help, kHelpIndent, kHelpWidth);
        }
    }
    for (const AtLeast& rule : at_least_rules()) {
        out += "\n";
        append_wrapped(out,
                       std::string(rule.key) + " must be at least " + std::string(rule.other) + ": " +
                           std::string(rule.why) + ".",
                       0, kHelpWidth);
    }
    out += "\n";
    append_wrapped(out, units_help(), 0, kHelpWidth);
    return out;
}

}  // namespace rtmpt::config
