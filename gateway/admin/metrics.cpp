#include "gateway/admin/metrics.hpp"

#include "proto/prometheus.hpp"

#include <algorithm>

namespace rtmpt::gateway {
namespace {

using proto::Exposition;
using proto::MetricType;

// One row of the counter list, as data.
struct CounterRow {
    std::string_view name;
    std::string_view family;
    std::string_view label;
    std::string_view help;
    std::uint64_t Counters::*field;
};

constexpr std::array kCounterRows{
#define RTMPT_COUNTER_ROW(name, family, label, help) CounterRow{#name, family, label, help, &Counters::name},
    RTMPT_GATEWAY_COUNTERS(RTMPT_COUNTER_ROW)
#undef RTMPT_COUNTER_ROW
};

[[nodiscard]] std::string full_name(std::string_view family, std::string_view suffix = {}) {
    std::string name(kMetricPrefix);
    name += family;
    name += suffix;
    return name;
}

[[nodiscard]] std::string capitalized(std::string_view help) {
    std::string out(help);
    if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
    return out + ".";
}

[[nodiscard]] const CounterFamily* shared_family(std::string_view family) {
    const auto it = std::find_if(kCounterFamilies.begin(), kCounterFamilies.end(),
                                 [&](const CounterFamily& f) { return f.family == family; });
    return it == kCounterFamilies.end() ? nullptr : &*it;
}

// Every counter of the list, in its order; a shared family is written whole where its first
// member stands.
void write_counters(Exposition& e, const Counters& c) {
    for (std::size_t i = 0; i < kCounterRows.size(); ++i) {
        const CounterRow& row = kCounterRows[i];
        const std::string name = full_name(row.family, "_total");
        const CounterFamily* shared = shared_family(row.family);
        if (!shared) {
            e.family(name, MetricType::counter, capitalized(row.help));
            e.sample(name, {}, c.*row.field);
            continue;
        }
        const bool first =
            std::none_of(kCounterRows.begin(), kCounterRows.begin() + static_cast<std::ptrdiff_t>(i),
                         [&](const CounterRow& r) { return r.family == row.family; });
        if (!first) continue;
        e.family(name, MetricType::counter, shared->help);
        for (const CounterRow& member : kCounterRows) {
            if (member.family == row.family) e.sample(name, {{shared->label, member.label}}, c.*member.field);
        }
    }
}

}  // namespace

std::string_view request_kind_label(proto::RouteKind kind) {
    return kind == proto::RouteKind::unknown ? "other" : proto::route_kind_name(kind);
}

std::string render_metrics(const Counters& c, const Gauges& g) {
    Exposition e;

    std::string name = full_name("build_info");
    e.family(name, MetricType::gauge, "Always 1; the labels say which build is running.");
    e.sample(name, {{"version", g.version}}, std::uint64_t{1});
    name = full_name("start_time_seconds");
    e.family(name, MetricType::gauge, "When the process started, in seconds since the Unix epoch.");
    e.sample(name, {}, g.start_time_seconds);

    name = full_name("sessions_active");
    e.family(name, MetricType::gauge, "Sessions open now.");
    e.sample(name, {}, g.sessions_active);
    name = full_name("connections_open");
    e.family(name, MetricType::gauge, "Connections open now: client (RTMPT) and admin ones.");
    e.sample(name, {{"listener", "client"}}, g.connections_open);
    e.sample(name, {{"listener", "admin"}}, g.admin_connections_open);
    name = full_name("backend_lingering");
    e.family(name, MetricType::gauge,
             "Backend connections of ended sessions still flushing their last client bytes.");
    e.sample(name, {}, g.backend_lingering);
    name = full_name("queued_bytes");
    e.family(name, MetricType::gauge,
             "Bytes waiting in session queues now: up for the backend, down for the client.");
    e.sample(name, {{"direction", "up"}}, g.queued_up);
    e.sample(name, {{"direction", "down"}}, g.queued_down);

    if (!g.workers.empty()) {
        name = full_name("workers");
        e.family(name, MetricType::gauge, "Event loops (process.workers), one thread each.");
        e.sample(name, {}, static_cast<std::uint64_t>(g.workers.size()));
        struct PerWorker {
            std::string_view family;
            MetricType type;
            std::string_view help;
            std::uint64_t WorkerGauges::*value;
        };
        constexpr std::array families{
            PerWorker{"worker_sessions_active", MetricType::gauge,
                      "Sessions open now, by the worker that owns them.", &WorkerGauges::sessions_active},
            PerWorker{"worker_connections_open", MetricType::gauge,
                      "Client connections open now, by the worker that accepted them.",
                      &WorkerGauges::connections_open},
            PerWorker{"worker_requests_total", MetricType::counter,
                      "HTTP requests parsed, by the worker whose connection carried them.",
                      &WorkerGauges::requests},
            PerWorker{"worker_requests_handed_over_total", MetricType::counter,
                      "Tunnel requests a worker carried to the worker that owns their session.",
                      &WorkerGauges::requests_handed_over},
        };
        for (const PerWorker& f : families) {
            name = full_name(f.family);
            e.family(name, f.type, f.help);
            for (const WorkerGauges& w : g.workers)
                e.sample(name, {{"worker", std::to_string(w.index)}}, w.*f.value);
        }
        name = full_name("worker_cpu_seconds_total");
        e.family(name, MetricType::counter, "CPU time of each worker's thread, user and system, in seconds.");
        for (const WorkerGauges& w : g.workers)
            e.sample(name, {{"worker", std::to_string(w.index)}}, w.cpu_seconds);
    }

    if (!g.certificate_expiry.empty()) {
        name = full_name("tls_certificate_expiry_seconds");
        e.family(name, MetricType::gauge,
                 "Seconds until the TLS certificate new connections get expires; negative once it has.");
        for (const auto& [file, seconds] : g.certificate_expiry) e.sample(name, {{"file", file}}, seconds);
    }

    write_counters(e, c);

    name = full_name("sessions_closed_total");
    e.family(name, MetricType::counter, "Sessions closed, by the reason their end was logged with.");
    for (std::size_t i = 0; i < c.sessions_closed.size(); ++i) {
        const std::string reason = close_reason_key(static_cast<CloseReason>(i));
        e.sample(name, {{"reason", reason}}, c.sessions_closed[i]);
    }

    name = full_name("transport_sessions_opened_total");
    e.family(name, MetricType::counter,
             "Sessions opened, by how the client came: rtmpt, rtmpts (RTMPT over TLS), rtmp, rtmps (native "
             "RTMP, relayed byte for byte).");
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        e.sample(name, {{"transport", transport_name(static_cast<Transport>(t))}}, c.transport_sessions[t]);
    }
    name = full_name("transport_bytes_total");
    e.family(name, MetricType::counter,
             "Payload relayed by transport: up is client to backend, down is backend to client.");
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        const std::string_view transport = transport_name(static_cast<Transport>(t));
        e.sample(name, {{"transport", transport}, {"direction", "up"}}, c.transport_bytes[t][0]);
        e.sample(name, {{"transport", transport}, {"direction", "down"}}, c.transport_bytes[t][1]);
    }

    name = full_name("requests_total");
    e.family(name, MetricType::counter,
             "Replies written to clients, by request kind (open, send, idle, close, ident2, other) and "
             "HTTP status.");
    for (const auto& [key, count] : c.replies) {
        const std::string status = std::to_string(key.second);
        e.sample(name, {{"kind", request_kind_label(key.first)}, {"status", status}}, count);
    }

    name = full_name("backend_connect_seconds");
    e.family(name, MetricType::histogram,
             "Time from starting a backend connect, name resolution included, to the connection being "
             "up.");
    e.histogram(name, c.backend_connect_seconds);
    return e.text();
}

}  // namespace rtmpt::gateway
