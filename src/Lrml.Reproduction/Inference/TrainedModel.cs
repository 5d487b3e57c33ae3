using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Protocols;

namespace Lrml.Reproduction;

/// <summary>
/// A trained model with the split and data it was trained on, for reading what it learned: top-k recommendations with
/// titles, and for LRML the quantities of one pair (p, q, s = p ⊙ q, a = softmax(s·K/τ), r = a·M, the distance) and an
/// explanation by memory slot that a reader can check. <see cref="Load"/> reads it back from a run directory written by
/// <c>lrml train</c> (or <see cref="Experiment.Run"/>); the constructor wraps a model trained in the same process (a notebook).
/// </summary>
/// <remarks>Every number comes from the model's own code: scores from <see cref="IRecommender.ScorePairs"/> and
/// <see cref="IRecommender.ScoreAllItems"/> (what the evaluator ranks by), attention and relation from
/// <see cref="IRelationalModel.Explain"/>, p and q from <see cref="IRelationalModel.EffectiveEmbeddings"/> (after the norm
/// clip), entropy from <see cref="MemoryUsage.Measure"/>. Only s = p ⊙ q and the residual p + r − q are formed here, for
/// display.</remarks>
public sealed class TrainedModel : IDisposable
{
    /// <summary>Attention with entropy at or above this fraction of ln N counts as near uniform (about 95 % of the slots
    /// share it evenly): no slot stands out, so an explanation by slot says nothing. N = 1 is always near uniform.</summary>
    public const double NearUniformEntropyRatio = 0.95;

    /// <summary>Training pairs (at most; drawn with the run seed) on which <see cref="PairExplanation.SlotShare"/> is measured.</summary>
    public const int SlotSharePairs = 50_000;

    /// <summary>Examples of <see cref="PairExplanation.SharedSlot"/> kept per pair.</summary>
    public const int SharedSlotExamples = 5;

    private readonly bool _ownsModel;
    private readonly long _seed;
    private double[]? _slotShares;

    /// <summary>Wraps a model trained in this process on <paramref name="split"/> of <paramref name="data"/> (not disposed
    /// with this object). <paramref name="seed"/> draws the training pairs of <see cref="PairExplanation.SlotShare"/>.</summary>
    public TrainedModel(IRecommender model, Split split, Interactions data, long seed = 1)
        : this(model, split, data, seed, ownsModel: false, result: null, runDirectory: null) { }

    private TrainedModel(IRecommender model, Split split, Interactions data, long seed, bool ownsModel, RunResult? result, string? runDirectory)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(data);
        if (model.NumUsers < split.NumUsers || model.NumItems != split.NumItems)
            throw new ArgumentException($"The model scores {model.NumUsers} users × {model.NumItems} items but the split has {split.NumUsers} × {split.NumItems}.");
        var users = split.UserIds ?? data.Users;
        var items = split.ItemIds ?? data.Items;
        if (users.Count < split.NumUsers || items.Count != split.NumItems)
            throw new ArgumentException($"The split's {split.NumUsers} users × {split.NumItems} items do not match the id maps ({users.Count} × {items.Count}).");
        (Model, Split, Data, Users, Items, _seed, _ownsModel, Result, RunDirectory) = (model, split, data, users, items, seed, ownsModel, result, runDirectory);
    }

    /// <summary>The trained model (the engine it was trained with).</summary>
    public IRecommender Model { get; }

    /// <summary>The split it was trained on (the run's frozen split when loaded from a run directory).</summary>
    public Split Split { get; }

    /// <summary>The dataset.</summary>
    public Interactions Data { get; }

    /// <summary>Raw user id ↔ index of the split.</summary>
    public IdMap Users { get; }

    /// <summary>Raw item id ↔ index of the split.</summary>
    public IdMap Items { get; }

    /// <summary>The run's result.json when loaded from a run directory, else null.</summary>
    public RunResult? Result { get; }

    /// <summary>The run directory it was loaded from, else null.</summary>
    public string? RunDirectory { get; }

    /// <summary>Whether the model is LRML (attention over memory slots; <see cref="PairExplanation.A"/> and the rest are set).</summary>
    public bool IsRelational => Model is IRelationalModel;

    // ───────────────────────────── loading ─────────────────────────────

    /// <summary>
    /// Loads the best model of a finished run from <paramref name="runDirectory"/>: reads result.json, rebuilds the run's
    /// frozen split (the split cache of <paramref name="context"/>, or built again from the same data, protocol, seed and
    /// candidates), builds the model with the run's engine and exact configuration and loads best.ckpt into it.
    /// </summary>
    /// <param name="runDirectory">A run directory written by <c>lrml train</c> (result.json, best.ckpt).</param>
    /// <param name="context">Where the data lives (and the split cache); its observer hears what is loaded.</param>
    /// <param name="threads">Compute threads of the model (the fused engine's scores do not depend on them).</param>
    /// <exception cref="FileNotFoundException">result.json or best.ckpt is missing (the message says why it may be).</exception>
    /// <exception cref="InvalidDataException">The data's checksums or the rebuilt split differ from the run's, or a file
    /// is not what it should be.</exception>
    public static TrainedModel Load(string runDirectory, ExperimentContext context, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(runDirectory);
        ArgumentNullException.ThrowIfNull(context);
        if (threads < 1) throw new ArgumentException($"threads must be ≥ 1 (got {threads}).");
        string dir = Path.GetFullPath(runDirectory);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"No run directory '{dir}'.");
        string resultPath = Path.Combine(dir, "result.json");
        if (!File.Exists(resultPath))
            throw new FileNotFoundException($"'{dir}' holds no result.json: it is not a finished run of lrml train " +
                                            "(an interrupted one continues with lrml train --resume --out DIR).", resultPath);
        var result = RunResult.Load(resultPath);
        var entry = ModelRegistry.Get(result.Model);
        var config = result.Config;
        var data = Experiment.LoadDataset(result.Dataset, context);
        CheckChecksums(result, data, resultPath);
        long splitSeed = Field(config, "split_seed", resultPath).GetValue<long>();
        int sampledNegatives = Field(config, "sampled_negatives", resultPath).GetValue<int>();
        var split = Experiment.GetSplit(result.Dataset, result.Protocol, splitSeed, sampledNegatives, context);
        CheckSplit(result, split, resultPath);

        var stored = Field(config, "model", resultPath) as JsonObject
                     ?? throw new InvalidDataException($"{resultPath}: config.model is not an object.");
        var train = config["train"] as JsonObject;
        var built = ModelRegistry.Build(entry.Name, new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = result.Seed, Threads = threads,
            Settings = SettingsOf(stored), Engine = (string?)stored["engine"] is { } e && e != "none" ? e : null, Device = "cpu",
            BatchSize = (int?)train?["batch_size"] ?? ModelBuildContext.DefaultBatchSize,
            NegativesPerPositive = (int?)train?["negatives_per_positive"] ?? ModelBuildContext.DefaultNegativesPerPositive,
        });
        try
        {
            if (!JsonNode.DeepEquals(WithoutDevice(built.Config), WithoutDevice(stored)))
                throw new InvalidDataException($"{resultPath}: the model rebuilt from config.model does not have the stored configuration " +
                                               $"(stored {WithoutDevice(stored).ToJsonString()}, rebuilt {WithoutDevice(built.Config).ToJsonString()}); " +
                                               "was the run written by another version of the kit?");
            if (built.Model is ITrainableRecommender trainable)
            {
                string ckpt = Path.Combine(dir, "best.ckpt");
                if (!File.Exists(ckpt))
                    throw new FileNotFoundException($"'{dir}' has no best.ckpt, so its trained model cannot be loaded back: best.ckpt is written " +
                                                    "when a validation evaluation finds a new best epoch (a protocol without validation, or a run " +
                                                    "with checkpoints switched off, writes none). Train again with validation.", ckpt);
                try { trainable.LoadState(File.ReadAllBytes(ckpt)); }
                catch (Exception ex) when (ex is InvalidDataException or DataFormatException or EndOfStreamException or ArgumentException)
                {
                    throw new InvalidDataException($"{ckpt}: not the best state of this run's {result.Model} ({ex.Message}).", ex);
                }
            }
            context.Observer.Message($"Loaded {result.Model} ({built.Engine} engine) of {dir}: best epoch {result.BestEpoch} of {result.Epochs}");
            return new TrainedModel(built.Model, split, data, result.Seed, ownsModel: true, result, dir);
        }
        catch
        {
            built.Model.Dispose();
            throw;
        }
    }

    private static JsonNode Field(JsonObject o, string key, string path) =>
        o[key] ?? throw new InvalidDataException($"{path}: config.{key} is missing (was the run written by another version of the kit?).");

    /// <summary>The stored model configuration as key=value settings (the engine and device are build options, not settings;
    /// a null value is the record's default).</summary>
    private static List<KeyValuePair<string, string>> SettingsOf(JsonObject stored) =>
        stored.Where(kv => kv.Key is not ("engine" or "device") && kv.Value is not null)
            .Select(kv => new KeyValuePair<string, string>(kv.Key,
                kv.Value!.GetValueKind() == JsonValueKind.String ? kv.Value.GetValue<string>() : kv.Value.ToJsonString()))
            .ToList();

    private static JsonObject WithoutDevice(JsonObject o)
    {
        var copy = o.DeepClone().AsObject();
        copy.Remove("device");
        return copy;
    }

    /// <summary>Every SHA-256 recorded in result.json's dataset provenance must be the current file's.</summary>
    private static void CheckChecksums(RunResult result, Interactions data, string resultPath)
    {
        foreach (var (key, sha) in result.DatasetProvenance)
        {
            if (key != ProvenanceKeys.Sha256 && !key.EndsWith("." + ProvenanceKeys.Sha256, StringComparison.Ordinal)) continue;
            string prefix = key[..^ProvenanceKeys.Sha256.Length];
            string file = data.Provenance.GetValueOrDefault(prefix + ProvenanceKeys.File) ?? result.DatasetProvenance.GetValueOrDefault(prefix + ProvenanceKeys.File) ?? key;
            string now = data.Provenance.GetValueOrDefault(key) ?? "(none)";
            if (now != sha)
                throw new InvalidDataException($"The data differs from the run's: {file} has SHA-256 {now[..Math.Min(12, now.Length)]}… now but " +
                                               $"{sha[..Math.Min(12, sha.Length)]}… in {resultPath}. The model's user and item indices belong to the " +
                                               "data it was trained on: restore that data, or train again on this one.");
        }
    }

    /// <summary>The rebuilt split must be the run's: its notes (NCF file checksums included) and sizes as recorded.</summary>
    private static void CheckSplit(RunResult result, Split split, string resultPath)
    {
        var now = new Dictionary<string, string>(split.Notes)
        {
            ["train_pairs"] = split.Train.Count.ToString(CultureInfo.InvariantCulture),
            ["validation_pairs"] = split.Validation.Count.ToString(CultureInfo.InvariantCulture),
            ["test_pairs"] = split.Test.Count.ToString(CultureInfo.InvariantCulture),
            ["seed"] = split.Seed.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in result.Split)
            if (now.TryGetValue(key, out var v) && v != value)
                throw new InvalidDataException($"The split rebuilt for {resultPath} is not the run's: {key} is {v} now but {value} in the run.");
    }

    // ───────────────────────────── ids ─────────────────────────────

    /// <summary>The split index of a raw user id; an unknown id is an <see cref="ArgumentException"/> naming examples.</summary>
    public int UserIndex(string user) => IndexOf(Users, user, "user", Split.NumUsers);

    /// <summary>The split index of a raw item id; an unknown id is an <see cref="ArgumentException"/> naming examples.</summary>
    public int ItemIndex(string item) => IndexOf(Items, item, "item", Split.NumItems);

    private int IndexOf(IdMap map, string raw, string what, int count)
    {
        ArgumentNullException.ThrowIfNull(raw);
        if (map.TryGetIndex(raw.Trim(), out int index) && index < count) return index;
        throw new ArgumentException($"Unknown {what} '{raw}': {Data.Name} as split for this model has {count:N0} {what}s with raw ids such as {string.Join(", ", map.Raw.Take(Math.Min(3, count)))}.");
    }

    /// <summary>The item of a split index with its raw id and title.</summary>
    public ItemRef Item(int index)
    {
        if ((uint)index >= (uint)Split.NumItems) throw new ArgumentOutOfRangeException(nameof(index), index, $"Items are 0 … {Split.NumItems - 1}.");
        string id = Items[index];
        string? title = Data.Catalog is { } c && c.TryGet(id, out var info) && info.Title != id ? info.Title : null;
        return new ItemRef(index, id, title);
    }

    /// <summary>The user's training items (what the model learned from), in index order.</summary>
    public IReadOnlyList<ItemRef> History(string user)
    {
        int u = UserIndex(user);
        return Split.Train[u].ToArray().Select(Item).ToList();
    }

    // ───────────────────────────── recommend and explain ─────────────────────────────

    /// <summary>
    /// The user's top-<paramref name="k"/> items by the model's score over all items (<see cref="IRecommender.ScoreAllItems"/>,
    /// the evaluator's full-ranking path), best first (ties: lower index first), leaving out the user's training items and,
    /// unless <paramref name="excludeValidation"/> is false, the validation items: the candidates of the evaluator's
    /// full-ranking test. Each comes with <see cref="Explain(int, int)"/>'s explanation.
    /// </summary>
    public IReadOnlyList<Recommendation> Recommend(string user, int k = 10, bool excludeValidation = true)
    {
        if (k < 1) throw new ArgumentException($"k must be ≥ 1 (got {k}).");
        int u = UserIndex(user);
        int n = Split.NumItems;
        var scores = new float[n];
        Model.ScoreAllItems([u], scores);
        var excluded = new bool[n];
        foreach (int i in Split.Train[u]) excluded[i] = true;
        if (excludeValidation) foreach (int i in Split.Validation[u]) excluded[i] = true;
        for (int i = 0; i < n; i++)
            if (float.IsNaN(scores[i])) throw new InvalidDataException($"{Model.Name} scored NaN for user '{user}', item '{Items[i]}'.");
        var top = Enumerable.Range(0, n).Where(i => !excluded[i]).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k).ToArray();
        var explained = ExplainPairs(u, top);
        return top.Select((i, r) => new Recommendation(r + 1, explained[r].Item, scores[i],
            Split.Test.Contains(u, i) ? "test" : Split.Validation.Contains(u, i) ? "validation" : null, explained[r])).ToList();
    }

    /// <summary>The quantities of one (user, item) pair by raw ids (see <see cref="PairExplanation"/>).</summary>
    public PairExplanation Explain(string user, string item) => Explain(UserIndex(user), ItemIndex(item));

    /// <summary>The quantities of one (user, item) pair by split indices (see <see cref="PairExplanation"/>).</summary>
    public PairExplanation Explain(int user, int item)
    {
        if ((uint)user >= (uint)Split.NumUsers) throw new ArgumentOutOfRangeException(nameof(user), user, $"Users are 0 … {Split.NumUsers - 1}.");
        Item(item);
        return ExplainPairs(user, [item])[0];
    }

    private PairExplanation[] ExplainPairs(int u, int[] items)
    {
        var users = Enumerable.Repeat(u, items.Length).ToArray();
        var scores = new float[items.Length];
        Model.ScorePairs(users, items, scores);
        var result = new PairExplanation[items.Length];
        if (Model is not IRelationalModel rel)
        {
            string? kind = DistanceOf(Model);
            for (int x = 0; x < items.Length; x++)
                result[x] = new PairExplanation
                {
                    User = Users[u], UserIndex = u, Item = Item(items[x]), Model = Model.Name, Score = scores[x],
                    Distance = kind is null ? null : -(double)scores[x], DistanceFormula = kind,
                    Summary = $"{Model.Name} has no memory attention: the pair's score {scores[x].ToString("G6", CultureInfo.InvariantCulture)} is all it gives.",
                };
            return result;
        }

        int d = rel.Dim, slots = rel.Slots;
        var a = new float[items.Length * slots];
        var r = new float[items.Length * d];
        rel.Explain(users, items, a, r);
        var (p, q) = rel.EffectiveEmbeddings([u], items);
        // the dominant slot of each of the user's training pairs, for the explanation by shared slot
        var history = Split.Train[u].ToArray();
        var ha = new float[history.Length * slots];
        rel.Explain(Enumerable.Repeat(u, history.Length).ToArray(), history, ha, new float[history.Length * d]);
        var shares = SlotShares(rel);
        string? formula = DistanceOf(Model);
        for (int x = 0; x < items.Length; x++)
        {
            var ax = a.AsSpan(x * slots, slots).ToArray();
            var rx = r.AsSpan(x * d, d).ToArray();
            var qx = q.AsSpan(x * d, d).ToArray();
            var s = new float[d];
            var residual = new float[d];
            for (int j = 0; j < d; j++) { s[j] = p[j] * qx[j]; residual[j] = p[j] + rx[j] - qx[j]; }
            int dominant = ArgMax(ax);
            var usage = MemoryUsage.Measure(rel, [u], [items[x]]);
            bool nearUniform = slots == 1 || usage.EntropyRatio >= NearUniformEntropyRatio;
            var peers = Enumerable.Range(0, history.Length)
                .Where(h => history[h] != items[x] && ArgMax(ha.AsSpan(h * slots, slots)) == dominant)
                .Select(h => new SharedSlotItem(Item(history[h]), ha[h * slots + dominant]))
                .OrderByDescending(e => e.Weight).ThenBy(e => e.Item.Index).ToList();
            var e = new PairExplanation
            {
                User = Users[u], UserIndex = u, Item = Item(items[x]), Model = Model.Name, Score = scores[x],
                Distance = -(double)scores[x], DistanceFormula = formula,
                P = p.ToArray(), Q = qx, S = s, A = ax, R = rx, Residual = residual,
                ResidualNorm = Math.Sqrt(residual.Sum(v => (double)v * v)),
                DominantSlot = dominant, DominantWeight = ax[dominant],
                Entropy = usage.AttentionEntropy, EntropyRatio = slots > 1 ? usage.EntropyRatio : double.NaN, NearUniform = nearUniform,
                SharedSlot = peers.Take(SharedSlotExamples).ToList(), SharedSlotCount = peers.Count, HistoryCount = history.Length,
                SlotShare = shares[dominant],
            };
            result[x] = e with { Summary = Summarise(e, slots) };
        }
        return result;
    }

    private static string Summarise(PairExplanation e, int slots)
    {
        var ci = CultureInfo.InvariantCulture;
        string head = string.Create(ci, $"slot {e.DominantSlot} carries a = {e.DominantWeight:F3} of the attention (uniform: {1.0 / slots:F3})");
        if (e.NearUniform)
            return head + (slots == 1 ? "; with one slot the memory cannot single anything out, so no slot explains the pair."
                : string.Create(ci, $", but the attention is near uniform (entropy {e.EntropyRatio:F3} × ln N ≥ {NearUniformEntropyRatio} × ln N): no slot stands out, so an explanation by slot says nothing for this pair."));
        string shared = e.SharedSlotCount == 0
            ? "none of the user's training items peaks at that slot"
            : string.Create(ci, $"{e.SharedSlotCount} of the user's {e.HistoryCount} training items peak at that slot too (e.g. {string.Join("; ", e.SharedSlot.Take(3).Select(x => x.Item.Label))})");
        return string.Create(ci, $"{head}, entropy {e.EntropyRatio:F3} × ln N; {shared}; slot {e.DominantSlot} is the peak of {e.SlotShare:P1} of training pairs.");
    }

    private static int ArgMax(ReadOnlySpan<float> a)
    {
        int best = 0;
        for (int j = 1; j < a.Length; j++) if (a[j] > a[best]) best = j;
        return best;
    }

    /// <summary>The fraction of (up to <see cref="SlotSharePairs"/>) training pairs whose attention peaks at each slot.</summary>
    private double[] SlotShares(IRelationalModel rel)
    {
        if (_slotShares is not null) return _slotShares;
        var (users, items) = MemoryUsage.SamplePairs(Split.Train, SlotSharePairs, _seed);
        var a = new float[users.Length * rel.Slots];
        rel.Explain(users, items, a, new float[users.Length * rel.Dim]);
        var shares = new double[rel.Slots];
        for (int x = 0; x < users.Length; x++) shares[ArgMax(a.AsSpan(x * rel.Slots, rel.Slots))]++;
        for (int n = 0; n < shares.Length; n++) shares[n] /= Math.Max(1, users.Length);
        return _slotShares = shares;
    }

    /// <summary>How a metric model's score relates to its distance (score = −distance), or null for other models.</summary>
    private static string? DistanceOf(IRecommender model)
    {
        if (model is IRelationalModel && model is ITrainableRecommender t)
        {
            var c = t.Describe();
            string eps = Convert.ToString(c.GetValueOrDefault("DistanceEpsilon"), CultureInfo.InvariantCulture) ?? "?";
            return Convert.ToString(c.GetValueOrDefault("Distance"), CultureInfo.InvariantCulture) switch
            {
                "SqrtL2" => $"D = sqrt(‖p + r − q‖² + ε), ε = {eps}",
                "SquaredL2" => "D = ‖p + r − q‖²",
                "L1" => "D = ‖p + r − q‖₁",
                var other => $"D ({other})",
            };
        }
        return model.Name switch
        {
            "CML" => "D = ‖p − q‖² (squared Euclidean)",
            "TransCF" => "D = ‖α_u + r_ui − β_i‖² (squared)",
            _ => null,
        };
    }

    /// <summary>Disposes the model when it was loaded by <see cref="Load"/>.</summary>
    public void Dispose()
    {
        if (_ownsModel) Model.Dispose();
    }
}

/// <summary>An item of the split: its index, raw id and title (null when the dataset has none).</summary>
public sealed record ItemRef(int Index, string Id, string? Title)
{
    /// <summary>The title with the raw id, or the raw id alone.</summary>
    public string Label => Title is null ? Id : $"{Title} [{Id}]";
}

/// <summary>One recommended item: its rank, the model's score, whether it is one of the user's held-out items ("test",
/// "validation" or null) and the pair's explanation.</summary>
public sealed record Recommendation(int Rank, ItemRef Item, float Score, string? HeldOut, PairExplanation Explanation);

/// <summary>A training item of the user whose attention peaks at the same slot, with its weight on that slot.</summary>
public sealed record SharedSlotItem(ItemRef Item, float Weight);

/// <summary>
/// The quantities of one (user, item) pair. For every model: the score (what the evaluator ranks by) and, for metric
/// models (LRML, CML, TransCF), the distance D = −score. For LRML also, from its own forward code: p and q (after the norm
/// clip), s = p ⊙ q, the attention a = softmax(s·K/τ) over the N slots (sums to 1), the relation r = a·M, the residual
/// p + r − q, and an explanation by dominant slot; null (or NaN) for other models.
/// </summary>
public sealed record PairExplanation
{
    /// <summary>Raw user id.</summary>
    public required string User { get; init; }
    /// <summary>User index of the split.</summary>
    public required int UserIndex { get; init; }
    /// <summary>The item.</summary>
    public required ItemRef Item { get; init; }
    /// <summary>Model name, e.g. "LRML".</summary>
    public required string Model { get; init; }
    /// <summary>The model's score of the pair (higher ranks higher; LRML and CML: −D).</summary>
    public required float Score { get; init; }
    /// <summary>The model's distance D = −score (metric models), else null.</summary>
    public double? Distance { get; init; }
    /// <summary>What <see cref="Distance"/> is, e.g. "D = sqrt(‖p + r − q‖² + ε), ε = 0.001", else null.</summary>
    public string? DistanceFormula { get; init; }
    /// <summary>User vector p (d), after the norm clip when configured.</summary>
    public float[]? P { get; init; }
    /// <summary>Item vector q (d), after the norm clip when configured.</summary>
    public float[]? Q { get; init; }
    /// <summary>Joint key s = p ⊙ q (d).</summary>
    public float[]? S { get; init; }
    /// <summary>Attention a over the N memory slots (sums to 1).</summary>
    public float[]? A { get; init; }
    /// <summary>Latent relation r = a·M (d).</summary>
    public float[]? R { get; init; }
    /// <summary>Translation residual p + r − q (d).</summary>
    public float[]? Residual { get; init; }
    /// <summary>‖p + r − q‖ (Euclidean); with the default sqrt-l2 distance D = sqrt(‖p + r − q‖² + ε).</summary>
    public double ResidualNorm { get; init; } = double.NaN;
    /// <summary>The slot with the largest attention (−1 without memory).</summary>
    public int DominantSlot { get; init; } = -1;
    /// <summary>Its attention weight (compare with 1/N).</summary>
    public float DominantWeight { get; init; } = float.NaN;
    /// <summary>Attention entropy −Σ a ln a (nats).</summary>
    public double Entropy { get; init; } = double.NaN;
    /// <summary>Entropy / ln N: 1 uniform, 0 one-hot (NaN when N = 1 or without memory).</summary>
    public double EntropyRatio { get; init; } = double.NaN;
    /// <summary>Whether the attention is near uniform (<see cref="TrainedModel.NearUniformEntropyRatio"/>): then the dominant
    /// slot is noise and explains nothing.</summary>
    public bool NearUniform { get; init; }
    /// <summary>Up to <see cref="TrainedModel.SharedSlotExamples"/> of the user's training items whose attention peaks at the
    /// same slot, largest weight on it first (the pair's own item left out).</summary>
    public IReadOnlyList<SharedSlotItem> SharedSlot { get; init; } = [];
    /// <summary>How many of the user's training items peak at that slot.</summary>
    public int SharedSlotCount { get; init; }
    /// <summary>The user's training items.</summary>
    public int HistoryCount { get; init; }
    /// <summary>Fraction of training pairs (up to <see cref="TrainedModel.SlotSharePairs"/>, drawn with the run seed) whose
    /// attention peaks at the dominant slot: sharing a slot that most pairs peak at says little.</summary>
    public double SlotShare { get; init; } = double.NaN;
    /// <summary>The explanation in one sentence.</summary>
    public string Summary { get; init; } = "";
}
