// The /metrics page from the counter list: every family well-formed, every counter on it once.
#include "gateway/admin/metrics.hpp"

#include <doctest/doctest.h>

#include "proto/prometheus.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace rtmpt::gateway;

namespace {

struct Page {
    std::map<std::string, std::string> help;     // family -> help
    std::map<std::string, std::string> type;     // family -> type
    std::vector<std::string> order;              // families in the order they appear
    std::map<std::string, std::string> samples;  // "name{labels}" -> value
    std::vector<std::string> sample_order;       // series in the order they appear
    std::vector<std::string> sample_family;      // the family open when each of them appeared
};

[[nodiscard]] Page parse(const std::string& text) {
    Page p;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        REQUIRE_FALSE(line.empty());
        if (line.starts_with("# HELP ")) {
            const std::string rest = line.substr(7);
            const std::string name = rest.substr(0, rest.find(' '));
            CHECK_FALSE(p.help.contains(name));  // each family once
            p.help[name] = rest.substr(name.size() + 1);
            p.order.push_back(name);
        } else if (line.starts_with("# TYPE ")) {
            const std::string rest = line.substr(7);
            const std::string name = rest.substr(0, rest.find(' '));
            CHECK(p.order.back() == name);  // TYPE right after its HELP
            p.type[name] = rest.substr(name.size() + 1);
        } else {
            const auto space = line.rfind(' ');
            REQUIRE(space != std::string::npos);
            CHECK_FALSE(p.samples.contains(line.substr(0, space)));  // each series once
            p.samples[line.substr(0, space)] = line.substr(space + 1);
            p.sample_order.push_back(line.substr(0, space));
            // A family's samples follow its HELP and TYPE, before the next family begins.
            REQUIRE_FALSE(p.order.empty());
            p.sample_family.push_back(p.order.back());
        }
    }
    return p;
}

[[nodiscard]] std::string family_of(const std::string& series, const Page& p) {
    std::string name = series.substr(0, series.find('{'));
    if (p.type.contains(name)) return name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (name.ends_with(suffix)) return name.substr(0, name.size() - std::string(suffix).size());
    }
    return name;
}

// What every page must be, whatever it shows: every family with HELP and TYPE, a valid prefixed
// name, counters (and only they) ending in _total, and each sample under its own family.
void check_exposition(const Page& p) {
    for (const std::string& name : p.order) {
        CAPTURE(name);
        CHECK(rtmpt::proto::is_metric_name(name));
        CHECK(name.starts_with(kMetricPrefix));
        CHECK_FALSE(p.help.at(name).empty());
        REQUIRE(p.type.contains(name));
        const std::string& type = p.type.at(name);
        CHECK((type == "counter" || type == "gauge" || type == "histogram"));
        CHECK(name.ends_with("_total") == (type == "counter"));
    }
    // Samples come after their family's lines, and only for families that were opened.
    std::set<std::string> families(p.order.begin(), p.order.end());
    for (std::size_t i = 0; i < p.sample_order.size(); ++i) {
        const std::string& series = p.sample_order[i];
        CAPTURE(series);
        CHECK(families.contains(family_of(series, p)));
        CHECK(family_of(series, p) == p.sample_family[i]);
        const std::string& value = p.samples.at(series);
        CHECK_FALSE(value.empty());
        CHECK(value.find(' ') == std::string::npos);
    }
}

}  // namespace

TEST_CASE("every family has HELP and TYPE, a valid prefixed name, and counters end in _total") {
    Counters c;
    Gauges g;
    g.version = "1.2.3";
    const Page p = parse(render_metrics(c, g));
    CHECK(p.order.size() > 10);
    check_exposition(p);
}

TEST_CASE("every counter of the list is on the page, with its value") {
    Counters c;
    std::uint64_t n = 1;
    // Distinct values, so a counter shown under another's name would show.
#define RTMPT_SET(name, family, label, help) c.name = n++;
    RTMPT_GATEWAY_COUNTERS(RTMPT_SET)
#undef RTMPT_SET
    const Page p = parse(render_metrics(c, Gauges{}));

    struct Row {
        std::string_view name, family, label, help;
        std::uint64_t value;
    };
    const std::vector<Row> rows{
#define RTMPT_ROW(name_, family_, label_, help_) Row{#name_, family_, label_, help_, c.name_},
        RTMPT_GATEWAY_COUNTERS(RTMPT_ROW)
#undef RTMPT_ROW
    };
    std::size_t shared = 0;
    for (const Row& row : rows) {
        CAPTURE(row.name);
        std::string series = std::string(kMetricPrefix) + std::string(row.family) + "_total";
        if (row.label.empty()) {
            // A family of its own takes the counter's help, as a sentence.
            CHECK(p.help.at(series).size() == row.help.size() + 1);
        } else {
            const auto it = std::find_if(kCounterFamilies.begin(), kCounterFamilies.end(),
                                         [&](const CounterFamily& f) { return f.family == row.family; });
            REQUIRE(it != kCounterFamilies.end());
            CHECK(p.help.at(series) == it->help);
            series += "{" + std::string(it->label) + "=\"" + std::string(row.label) + "\"}";
            ++shared;
        }
        REQUIRE(p.samples.contains(series));
        CHECK(p.samples.at(series) == std::to_string(row.value));
    }
    CHECK(shared > 10);
    CHECK(p.samples.contains("rtmpt_gateway_refusals_total{limit=\"max_sessions\"}"));
    CHECK(p.samples.contains("rtmpt_gateway_bytes_total{direction=\"up\"}"));
    CHECK(p.samples.contains("rtmpt_gateway_poll_replies_total{content=\"empty\"}"));
}

TEST_CASE("one closed series per close reason; replies by kind and status; the connect histogram") {
    Counters c;
    c.sessions_closed[static_cast<std::size_t>(CloseReason::sequence_gap)] = 4;
    c.count_reply(rtmpt::proto::RouteKind::open, "HTTP/1.1 200 OK\r\n\r\n");
    c.count_reply(rtmpt::proto::RouteKind::open, "HTTP/1.1 503 Service Unavailable\r\n\r\n");
    c.count_reply(rtmpt::proto::RouteKind::unknown, "HTTP/1.1 405 Method Not Allowed\r\n\r\n");
    c.count_reply(rtmpt::proto::RouteKind::open, "HTTP/1.1 200 OK\r\n\r\n");
    c.backend_connect_seconds.observe(0.0003);
    c.backend_connect_seconds.observe(0.2);
    const Page p = parse(render_metrics(c, Gauges{}));
    std::size_t reasons = 0;
    for (const auto& [series, value] : p.samples) {
        if (series.starts_with("rtmpt_gateway_sessions_closed_total{")) ++reasons;
    }
    CHECK(reasons == kCloseReasonCount);
    CHECK(p.samples.at("rtmpt_gateway_sessions_closed_total{reason=\"sequence_gap_timeout\"}") == "4");
    CHECK(p.samples.at("rtmpt_gateway_sessions_closed_total{reason=\"client_close\"}") == "0");
    CHECK(p.samples.at("rtmpt_gateway_requests_total{kind=\"open\",status=\"200\"}") == "2");
    CHECK(p.samples.at("rtmpt_gateway_requests_total{kind=\"open\",status=\"503\"}") == "1");
    CHECK(p.samples.at("rtmpt_gateway_requests_total{kind=\"other\",status=\"405\"}") == "1");
    CHECK(p.samples.at("rtmpt_gateway_backend_connect_seconds_bucket{le=\"0.001\"}") == "1");
    CHECK(p.samples.at("rtmpt_gateway_backend_connect_seconds_bucket{le=\"0.25\"}") == "2");
    CHECK(p.samples.at("rtmpt_gateway_backend_connect_seconds_bucket{le=\"+Inf\"}") == "2");
    CHECK(p.samples.at("rtmpt_gateway_backend_connect_seconds_count") == "2");
}

TEST_CASE("gauges") {
    Gauges g;
    g.sessions_active = 3;
    g.connections_open = 7;
    g.admin_connections_open = 1;
    g.backend_lingering = 2;
    g.queued_up = 10;
    g.queued_down = 20;
    g.start_time_seconds = 1700000000.5;
    g.version = "0.1.0";
    const Page p = parse(render_metrics(Counters{}, g));
    CHECK(p.samples.at("rtmpt_gateway_sessions_active") == "3");
    CHECK(p.samples.at("rtmpt_gateway_connections_open{listener=\"client\"}") == "7");
    CHECK(p.samples.at("rtmpt_gateway_connections_open{listener=\"admin\"}") == "1");
    CHECK(p.samples.at("rtmpt_gateway_backend_lingering") == "2");
    CHECK(p.samples.at("rtmpt_gateway_queued_bytes{direction=\"up\"}") == "10");
    CHECK(p.samples.at("rtmpt_gateway_queued_bytes{direction=\"down\"}") == "20");
    CHECK(p.samples.at("rtmpt_gateway_start_time_seconds") == "1700000000.5");
    CHECK(p.samples.at("rtmpt_gateway_build_info{version=\"0.1.0\"}") == "1");
    // No TLS: no certificate family at all, rather than one without samples.
    CHECK(p.samples.count("rtmpt_gateway_tls_certificate_expiry_seconds{file=\"\"}") == 0);
}

TEST_CASE("TLS certificate expiry, one sample per file; negative once expired") {
    Gauges g;
    g.certificate_expiry = {{"/etc/tls/a.pem", 86400.0}, {"/etc/tls/b.pem", -5.0}};
    const Page p = parse(render_metrics(Counters{}, g));
    CHECK(p.samples.at("rtmpt_gateway_tls_certificate_expiry_seconds{file=\"/etc/tls/a.pem\"}") == "86400");
    CHECK(p.samples.at("rtmpt_gateway_tls_certificate_expiry_seconds{file=\"/etc/tls/b.pem\"}") == "-5");
}

TEST_CASE("request kinds and close reason keys") {
    CHECK(request_kind_label(rtmpt::proto::RouteKind::unknown) == "other");
    CHECK(request_kind_label(rtmpt::proto::RouteKind::ident2) == "ident2");
    CHECK(request_kind_label(rtmpt::proto::RouteKind::close) == "close");
    CHECK(close_reason_key(CloseReason::backend_connect_failed) == "backend_connect_failed");
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
        const std::string key = close_reason_key(static_cast<CloseReason>(i));
        CAPTURE(key);
        CHECK(key.find(' ') == std::string::npos);
    }
}

namespace {

const std::vector<std::string> kWorkerFamilies{
    "rtmpt_gateway_workers",
    "rtmpt_gateway_worker_sessions_active",
    "rtmpt_gateway_worker_connections_open",
    "rtmpt_gateway_worker_requests_total",
    "rtmpt_gateway_worker_requests_handed_over_total",
    "rtmpt_gateway_worker_cpu_seconds_total",
};

}  // namespace

TEST_CASE("no worker families without worker gauges") {
    Gauges g;
    g.version = "1.2.3";
    const std::string text = render_metrics(Counters{}, g);
    const Page p = parse(text);
    check_exposition(p);
    for (const std::string& family : kWorkerFamilies) {
        CAPTURE(family);
        CHECK_FALSE(p.help.contains(family));
        CHECK_FALSE(p.type.contains(family));
    }
    // Not even an empty family, and no series labelled by worker.
    CHECK(text.find("rtmpt_gateway_worker") == std::string::npos);
    CHECK(text.find("worker=") == std::string::npos);
}

TEST_CASE("worker families: the count, then one sample per worker and family, by index") {
    Gauges g;
    g.version = "1.2.3";
    g.sessions_active = 5;
    g.connections_open = 9;
    g.certificate_expiry = {{"/etc/tls/a.pem", 86400.0}};
    g.workers.resize(2);
    g.workers[0] = WorkerGauges{0, 2, 4, 100, 7, 1.25};
    g.workers[1] = WorkerGauges{1, 3, 5, 250, 0, 0.5};
    const std::string text = render_metrics(Counters{}, g);
    const Page p = parse(text);
    check_exposition(p);

    CHECK(p.type.at("rtmpt_gateway_workers") == "gauge");
    CHECK(p.type.at("rtmpt_gateway_worker_sessions_active") == "gauge");
    CHECK(p.type.at("rtmpt_gateway_worker_connections_open") == "gauge");
    CHECK(p.type.at("rtmpt_gateway_worker_requests_total") == "counter");
    CHECK(p.type.at("rtmpt_gateway_worker_requests_handed_over_total") == "counter");
    CHECK(p.type.at("rtmpt_gateway_worker_cpu_seconds_total") == "counter");
    CHECK(p.samples.at("rtmpt_gateway_workers") == "2");

    CHECK(p.samples.at("rtmpt_gateway_worker_sessions_active{worker=\"0\"}") == "2");
    CHECK(p.samples.at("rtmpt_gateway_worker_sessions_active{worker=\"1\"}") == "3");
    CHECK(p.samples.at("rtmpt_gateway_worker_connections_open{worker=\"0\"}") == "4");
    CHECK(p.samples.at("rtmpt_gateway_worker_connections_open{worker=\"1\"}") == "5");
    CHECK(p.samples.at("rtmpt_gateway_worker_requests_total{worker=\"0\"}") == "100");
    CHECK(p.samples.at("rtmpt_gateway_worker_requests_total{worker=\"1\"}") == "250");
    CHECK(p.samples.at("rtmpt_gateway_worker_requests_handed_over_total{worker=\"0\"}") == "7");
    CHECK(p.samples.at("rtmpt_gateway_worker_requests_handed_over_total{worker=\"1\"}") == "0");
    CHECK(p.samples.at("rtmpt_gateway_worker_cpu_seconds_total{worker=\"0\"}") == "1.25");
    CHECK(p.samples.at("rtmpt_gateway_worker_cpu_seconds_total{worker=\"1\"}") == "0.5");

    // Exactly those: the count once, then two series per family.
    std::size_t worker_series = 0;
    for (const auto& [series, value] : p.samples) {
        if (series.starts_with("rtmpt_gateway_worker")) ++worker_series;
    }
    CHECK(worker_series == 1 + 5 * 2);
    // The totals stay what they were: the per-worker families add to nothing else.
    CHECK(p.samples.at("rtmpt_gateway_sessions_active") == "5");
    CHECK(p.samples.at("rtmpt_gateway_connections_open{listener=\"client\"}") == "9");
    // Each worker family appears once, in the order the page lists them.
    std::vector<std::string> seen;
    for (const std::string& family : p.order) {
        if (std::find(kWorkerFamilies.begin(), kWorkerFamilies.end(), family) != kWorkerFamilies.end())
            seen.push_back(family);
    }
    CHECK(seen == kWorkerFamilies);
    // Worker 0's sample comes before worker 1's in every family.
    for (const std::string& family : kWorkerFamilies) {
        if (family == "rtmpt_gateway_workers") continue;
        CAPTURE(family);
        const auto first = text.find(family + "{worker=\"0\"}");
        const auto second = text.find(family + "{worker=\"1\"}");
        REQUIRE(first != std::string::npos);
        REQUIRE(second != std::string::npos);
        CHECK(first < second);
    }
}

TEST_CASE("worker labels are the workers' own indexes, whatever their place in the list") {
    Gauges g;
    g.workers = {WorkerGauges{7, 1, 1, 1, 1, 1}, WorkerGauges{3, 2, 2, 2, 2, 2},
                 WorkerGauges{63, 0, 0, 0, 0, 0}};
    const Page p = parse(render_metrics(Counters{}, g));
    check_exposition(p);
    CHECK(p.samples.at("rtmpt_gateway_workers") == "3");
    CHECK(p.samples.at("rtmpt_gateway_worker_requests_total{worker=\"7\"}") == "1");
    CHECK(p.samples.at("rtmpt_gateway_worker_requests_total{worker=\"3\"}") == "2");
    CHECK(p.samples.at("rtmpt_gateway_worker_requests_total{worker=\"63\"}") == "0");
    CHECK_FALSE(p.samples.contains("rtmpt_gateway_worker_requests_total{worker=\"0\"}"));
    CHECK_FALSE(p.samples.contains("rtmpt_gateway_worker_requests_total{worker=\"1\"}"));
}

TEST_CASE("one worker is still shown as one: the families do not depend on there being several") {
    Gauges g;
    g.workers = {WorkerGauges{0, 4, 6, 10, 0, 0}};
    const Page p = parse(render_metrics(Counters{}, g));
    check_exposition(p);
    CHECK(p.samples.at("rtmpt_gateway_workers") == "1");
    CHECK(p.samples.at("rtmpt_gateway_worker_sessions_active{worker=\"0\"}") == "4");
    CHECK(p.samples.at("rtmpt_gateway_worker_cpu_seconds_total{worker=\"0\"}") == "0");
}
