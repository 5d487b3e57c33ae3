using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Training;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>
/// What makes two runs the same computation, so that a finished run, a checkpoint or a sweep trial is reused only when
/// it provably gives the same numbers: the data (SHA-256 of every file read, the NCF split files included: see
/// <see cref="Experiment.SplitIdentity"/>), the effective protocol, split seed and sampled negatives, the model, its
/// engine and settings, every training setting (epochs, patience, batch, negatives, seed, threads, evaluation cadence and
/// metric), full ranking, validation mode, the metric cut-offs, and <see cref="NumericsVersion"/>.
/// <para><see cref="Parts"/> is stored with what is reused (a store's spec.json, a training checkpoint, a sweep's
/// sweep.json), so a mismatch names what differs (<see cref="Differences"/>) instead of only saying that a hash differs.
/// Not part of it: output locations, data folder paths (a byte-identical copy elsewhere is the same data) and the
/// checkpoint cadence.</para>
/// </summary>
public sealed class RunIdentity
{
    /// <summary>
    /// Version of the kit's numerics. Bump it in the same commit as any change that alters the numbers of an unchanged
    /// configuration on unchanged data — a model's maths or defaults, the trainer, the negative sampler, a split builder,
    /// the candidate sampler, the evaluator or a metric — so that runs, checkpoints, sweeps and frozen splits of the older
    /// code are never reused as if they were current. 2: the fused engines' dots, sums of squares, squared distances and norms
    /// of 16 to 128 floats take TensorPrimitives' 512-bit order on AVX2 machines too (before, its 256-bit order there: other
    /// last bits than on AVX-512 machines).
    /// </summary>
    public const int NumericsVersion = 2;

    /// <summary>Everything that defines the computation, as stored next to its results.</summary>
    public JsonObject Parts { get; }

    /// <summary>16 hex digits of the SHA-256 of <see cref="Parts"/>.</summary>
    public string Key { get; }

    /// <summary>An identity from its parts.</summary>
    public RunIdentity(JsonObject parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        Parts = parts;
        Key = Hash(parts, 16);
    }

    /// <summary>The identity of a run: resolves the protocol and sampled negatives as <see cref="Experiment.Run"/> does and
    /// checksums the data it would read (memoised per file stamp, so repeated calls are cheap).</summary>
    public static RunIdentity Of(RunSpec spec, ExperimentContext context)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        string protocol = (spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, context)).ToLowerInvariant();
        var settings = new JsonObject();
        foreach (var kv in spec.Settings) settings[ConfigBinder.Normalise(kv.Key)] = kv.Value.Trim();   // the last value wins, as when applied
        var parts = new JsonObject
        {
            ["numerics_version"] = NumericsVersion,
            ["split"] = Experiment.SplitIdentity(spec.Dataset, protocol, spec.SplitSeed, spec.SampledNegativesFor(protocol), context),
            ["model"] = ModelRegistry.Get(spec.Model).Name,
            ["engine"] = spec.Engine?.ToLowerInvariant() ?? ModelRegistry.DefaultEngine(spec.Model, spec.Settings, spec.Device),
            ["settings"] = Sorted(settings),
            ["train"] = spec.Train.IdentityJson(),
            ["full_ranking"] = spec.FullRanking,
            ["sampled_validation"] = spec.SampledValidation,
            ["ks"] = new JsonArray(spec.Ks.Select(k => (JsonNode)k).ToArray()),
        };
        if (!IsCpu(spec.Device)) parts["device"] = spec.Device.ToLowerInvariant();   // absent for CPU: earlier identities stay valid
        if (spec.OracleEpoch) parts["oracle_epoch"] = true;   // its result has the oracle numbers; absent when off, as before
        if (spec.RetrainOnValidation) parts["retrain_on_validation"] = true;   // likewise: absent when off
        return new RunIdentity(parts);
    }

    /// <summary>Whether a device name is the CPU (the default).</summary>
    internal static bool IsCpu(string device) => string.Equals(device, "cpu", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// What differs between stored identity parts and current ones, one entry per leaf, e.g. "train.epochs: 2 (stored) vs 6
    /// (now)" or "checksum of u.data: 3fa1b2c3d4e5 (stored) vs 9c0d1e2f3a4b (now)". Parts recorded by an older kit that
    /// stored none give a single entry saying so.
    /// </summary>
    public static IReadOnlyList<string> Differences(JsonNode? stored, JsonNode? current)
    {
        if (stored is not JsonObject)
            return ["no identity recorded (written by an older version of the kit): it cannot be proved to be the same computation"];
        var a = Flatten(stored); var b = Flatten(current);
        var list = new List<string>();
        foreach (var path in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            a.TryGetValue(path, out var x); b.TryGetValue(path, out var y);
            if (x == y) continue;
            var segments = path.Split('\u0001');
            if (segments[0] == "split") segments = segments[1..];
            bool checksum = segments.Length == 2 && segments[0] == "files";
            string name = checksum ? "checksum of " + segments[1] : string.Join(".", segments);
            string Show(string? v) => v is null ? "(none)" : checksum ? v[..Math.Min(12, v.Length)] : v;
            list.Add($"{name}: {Show(x)} (stored) vs {Show(y)} (now)");
        }
        return list;
    }

    /// <summary>Differences joined into one sentence part ("a; b; c"), at most <paramref name="max"/> of them.</summary>
    public static string Describe(IReadOnlyList<string> differences, int max = 6) =>
        differences.Count <= max ? string.Join("; ", differences)
            : string.Join("; ", differences.Take(max)) + $"; and {differences.Count - max} more";

    /// <summary>The first <paramref name="chars"/> hex digits of the SHA-256 of a node's canonical JSON.</summary>
    internal static string Hash(JsonNode node, int chars) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(node.ToJsonString())))[..chars];

    /// <summary>A copy of <paramref name="o"/> with its keys in ordinal order (so equal contents hash equally).</summary>
    internal static JsonObject Sorted(JsonObject o)
    {
        var s = new JsonObject();
        foreach (var kv in o.OrderBy(kv => kv.Key, StringComparer.Ordinal)) s[kv.Key] = kv.Value?.DeepClone();
        return s;
    }

    private static Dictionary<string, string?> Flatten(JsonNode? node)
    {
        var d = new Dictionary<string, string?>(StringComparer.Ordinal);
        void Walk(JsonNode? n, string path)
        {
            if (n is JsonObject o) foreach (var kv in o) Walk(kv.Value, path.Length == 0 ? kv.Key : path + '\u0001' + kv.Key);
            else if (n is null) { if (path.Length > 0) d[path] = null; }
            else d[path] = n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : n.ToJsonString();
        }
        Walk(node, "");
        return d;
    }
}
