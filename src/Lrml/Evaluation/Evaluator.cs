using System.Diagnostics;
using System.Globalization;
using System.Text;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Evaluation;

/// <summary>How the candidates a held-out item is ranked against are chosen.</summary>
public enum CandidateMode
{
    /// <summary>The split's frozen sampled negatives (e.g. 99 per user, as in NCF).</summary>
    Sampled,
    /// <summary>Every item the user has not interacted with before the target (full ranking).</summary>
    Full,
}

/// <summary>Options of <see cref="Evaluator.Evaluate"/>.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Sampled candidates (frozen negatives of the split) or full ranking.</summary>
    public CandidateMode Mode { get; init; } = CandidateMode.Sampled;

    /// <summary>Cut-offs k of the @k metrics (distinct, each ≥ 1).</summary>
    public int[] Ks { get; init; } = [10];

    /// <summary>Threads for the ranking / metric work (the model itself is always called from the calling thread).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Upper bound on the score buffer: full mode scores chunks of users with chunk × NumItems × 4 bytes ≤ budget;
    /// sampled mode scores at most budget / 12 pairs per call (user, item and score arrays).</summary>
    public long MemoryBudgetBytes { get; init; } = 256L << 20;
}

/// <summary>Result of one evaluation: mean metrics and the per-user values behind them (for paired tests).</summary>
public sealed class EvaluationResult
{
    /// <summary>The set evaluated.</summary>
    public EvalTarget Target { get; init; }
    /// <summary>Candidate mode used.</summary>
    public CandidateMode Mode { get; init; }
    /// <summary>Name of the evaluated model.</summary>
    public string ModelName { get; init; } = "";
    /// <summary>Metric names in report order (e.g. HR@10, nDCG@10, MRR, AUC).</summary>
    public IReadOnlyList<string> MetricNames { get; init; } = [];
    /// <summary>Mean of each metric over the evaluated users.</summary>
    public required IReadOnlyDictionary<string, double> Metrics { get; init; }
    /// <summary>Evaluated user indices (ascending): users with at least one held-out item in the target.</summary>
    public required int[] Users { get; init; }
    /// <summary>Per-user metric values, aligned with <see cref="Users"/>.</summary>
    public required IReadOnlyDictionary<string, double[]> PerUser { get; init; }
    /// <summary>Users with held-out items that could not be evaluated (no sampled negatives, or in full mode no
    /// non-relevant candidate left); they are not in <see cref="Users"/>.</summary>
    public int SkippedUsers { get; init; }
    /// <summary>Wall-clock seconds of the evaluation.</summary>
    public double Seconds { get; init; }

    /// <summary>One line, e.g. "LRML · Test · sampled · 6,040 users · 0.84 s: HR@10 0.7012, nDCG@10 0.4301, …".</summary>
    public string Describe()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        if (ModelName.Length > 0) sb.Append(ModelName).Append(" · ");
        sb.Append(ci, $"{Target} · {(Mode == CandidateMode.Sampled ? "sampled" : "full ranking")} · {Users.Length:N0} users");
        if (SkippedUsers > 0) sb.Append(ci, $" ({SkippedUsers:N0} skipped)");
        sb.Append(ci, $" · {Seconds:F2} s:");
        var names = MetricNames.Count > 0 ? MetricNames : Metrics.Keys.ToList();
        for (int j = 0; j < names.Count; j++)
            sb.Append(j == 0 ? " " : ", ").Append(names[j]).Append(' ').Append(Metrics[names[j]].ToString("F4", ci));
        return sb.ToString();
    }

    public override string ToString() => Describe();
}

/// <summary>
/// Evaluates a model on a split's validation or test set.
/// <para><b>Sampled mode</b>: each held-out positive of a user is ranked against that user's frozen negatives
/// (<see cref="Split.ValidationNegatives"/> / <see cref="Split.TestNegatives"/>); other positives are not
/// candidates. Metrics HR@k, nDCG@k, MRR, AUC per positive, averaged over the user's positives, then over users.
/// Pairs of many users are scored in one <see cref="IRecommender.ScorePairs"/> call per chunk.</para>
/// <para><b>Full mode</b>: candidates are all items except the user's training items, and for Test also except the
/// validation items (known history at test time). For Validation the test items stay in the pool as non-relevant
/// items (removing them would use test information). Metrics HR@k, nDCG@k, Recall@k, Precision@k, MAP@k, MRR, AUC.
/// Users are scored in chunks through <see cref="IRecommender.ScoreAllItems"/> with
/// chunk × NumItems × 4 bytes ≤ <see cref="EvaluationOptions.MemoryBudgetBytes"/>; the item list is never sorted.</para>
/// <para>Ties are pessimistic (see <see cref="Evaluation.Metrics"/>). A NaN score raises a
/// <see cref="NonFiniteScoreException"/> (an <see cref="InvalidOperationException"/>) naming the user and item. Only users with held-out items are evaluated.</para>
/// <para><b>Threads</b>: the model is called only from the calling thread, one call at a time, so models need not be
/// thread-safe; <see cref="EvaluationOptions.Threads"/> parallelises the ranking and metric work over users of a
/// chunk. Results do not depend on the thread count or the memory budget.</para>
/// </summary>
public static class Evaluator
{
    /// <summary>Evaluates <paramref name="model"/> on <paramref name="target"/> of <paramref name="split"/>.</summary>
    public static EvaluationResult Evaluate(IRecommender model, Split split, EvalTarget target, EvaluationOptions options,
        IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(options);
        var ks = CheckOptions(options);
        if (model.NumItems != split.NumItems)
            throw new ArgumentException($"Model '{model.Name}' scores {model.NumItems} items but the split has {split.NumItems}.", nameof(model));
        if (model.NumUsers < split.NumUsers)
            throw new ArgumentException($"Model '{model.Name}' knows {model.NumUsers} users but the split has {split.NumUsers}.", nameof(model));
        var heldOut = target == EvalTarget.Validation ? split.Validation : split.Test;
        if (heldOut.Count == 0)
            throw new InvalidOperationException($"Split {split.Dataset}/{split.Protocol} has no {target.ToString().ToLowerInvariant()} items to evaluate.");
        if (heldOut.Overlaps(split.Train))
            throw new InvalidOperationException($"Split {split.Dataset}/{split.Protocol} leaks: some {target} pairs are also training pairs.");
        if (target == EvalTarget.Test && split.Test.Overlaps(split.Validation))
            throw new InvalidOperationException($"Split {split.Dataset}/{split.Protocol} leaks: some test pairs are also validation pairs.");

        var sw = Stopwatch.StartNew();
        progress?.Report(0);
        var result = options.Mode == CandidateMode.Sampled
            ? EvaluateSampled(model, split, target, heldOut, ks, options, progress)
            : EvaluateFull(model, split, target, heldOut, ks, options, progress);
        progress?.Report(1);
        return result.WithSeconds(sw.Elapsed.TotalSeconds);
    }

    private static int[] CheckOptions(EvaluationOptions o)
    {
        if (o.Ks is null || o.Ks.Length == 0) throw new ArgumentException("EvaluationOptions.Ks must list at least one k.");
        foreach (int k in o.Ks) if (k < 1) throw new ArgumentException($"EvaluationOptions.Ks: k = {k} must be at least 1.");
        if (o.Ks.Distinct().Count() != o.Ks.Length) throw new ArgumentException("EvaluationOptions.Ks must be distinct.");
        if (o.Threads < 1) throw new ArgumentException("EvaluationOptions.Threads must be at least 1.");
        if (o.MemoryBudgetBytes < 1) throw new ArgumentException("EvaluationOptions.MemoryBudgetBytes must be positive.");
        return (int[])o.Ks.Clone();
    }

    // ------------------------------------------------------------------------------------------------ sampled

    private static Partial EvaluateSampled(IRecommender model, Split split, EvalTarget target, UserItems heldOut,
        int[] ks, EvaluationOptions options, IProgress<double>? progress)
    {
        var negatives = (target == EvalTarget.Validation ? split.ValidationNegatives : split.TestNegatives)
            ?? throw new InvalidOperationException($"Split {split.Dataset}/{split.Protocol} has no frozen {target.ToString().ToLowerInvariant()} negatives. " +
                "Use CandidateMode.Full, or attach candidates with CandidateSampler.WithSampledCandidates.");
        if (negatives.NumUsers != heldOut.NumUsers || negatives.NumItems != heldOut.NumItems)
            throw new InvalidOperationException("The split's negatives have a different shape than its held-out set.");
        if (negatives.Overlaps(heldOut))
            throw new InvalidOperationException($"Split {split.Dataset}/{split.Protocol}: some {target} negatives are held-out positives.");

        var names = new List<string>();
        foreach (int k in ks) { names.Add(Metrics.HitRateName(k)); names.Add(Metrics.NdcgName(k)); }
        names.Add(Metrics.MrrName); names.Add(Metrics.AucName);

        var users = new List<int>(); int skipped = 0; long maxPairs = 1, totalPairs = 0;
        for (int u = 0; u < heldOut.NumUsers; u++)
        {
            if (heldOut.CountOf(u) == 0) continue;
            if (negatives.CountOf(u) == 0) { skipped++; continue; }
            users.Add(u);
            long p = heldOut.CountOf(u) + negatives.CountOf(u);
            maxPairs = Math.Max(maxPairs, p); totalPairs += p;
        }
        var evalUsers = users.ToArray();
        int nm = names.Count, nUsers = evalUsers.Length;
        var values = new double[nm][];
        for (int m = 0; m < nm; m++) values[m] = new double[nUsers];

        long budgetPairs = Math.Max(1, options.MemoryBudgetBytes / 12);
        int capacity = (int)Math.Min(Array.MaxLength, Math.Max(maxPairs, Math.Min(budgetPairs, totalPairs)));
        var pu = new int[capacity]; var pi = new int[capacity]; var ps = new float[capacity];
        var start = new int[nUsers + 1]; // pair offset of each user within its chunk

        int a = 0;
        while (a < nUsers)
        {
            // Fill one chunk of users whose pairs fit in the buffer (at least one user).
            int b = a, m = 0;
            while (b < nUsers)
            {
                int u = evalUsers[b];
                int p = heldOut.CountOf(u) + negatives.CountOf(u);
                if (b > a && (m + p > capacity || m + p > budgetPairs)) break;
                start[b] = m;
                foreach (int it in heldOut[u]) { pu[m] = u; pi[m] = it; m++; }
                foreach (int it in negatives[u]) { pu[m] = u; pi[m] = it; m++; }
                b++;
            }
            start[b] = m;
            model.ScorePairs(pu.AsSpan(0, m), pi.AsSpan(0, m), ps.AsSpan(0, m));

            int chunkStart = a;
            Par.For(chunkStart, b, options.Threads, idx =>
            {
                int u = evalUsers[idx];
                int np = heldOut.CountOf(u);
                var scores = ps.AsSpan(start[idx], start[idx + 1] - start[idx]);
                for (int j = 0; j < scores.Length; j++)
                    if (float.IsNaN(scores[j])) throw NanError(model, split, u, pi[start[idx] + j], target);
                var pos = scores[..np]; var neg = scores[np..];
                int col = 0;
                Span<double> acc = stackalloc double[nm];
                acc.Clear();
                for (int q = 0; q < np; q++)
                {
                    int rank = Metrics.PessimisticRank(pos[q], neg);
                    col = 0;
                    foreach (int k in ks) { acc[col++] += Metrics.HitRate(rank, k); acc[col++] += Metrics.Ndcg(rank, k); }
                    acc[col++] += Metrics.ReciprocalRank(rank);
                    acc[col++] += Metrics.Auc(pos[q], neg);
                }
                for (int c = 0; c < nm; c++) values[c][idx] = acc[c] / np;
            });
            a = b;
            progress?.Report((double)a / nUsers);
        }
        return Partial.From(model, target, CandidateMode.Sampled, names, evalUsers, values, skipped);
    }

    // ------------------------------------------------------------------------------------------------ full

    private static Partial EvaluateFull(IRecommender model, Split split, EvalTarget target, UserItems heldOut,
        int[] ks, EvaluationOptions options, IProgress<double>? progress)
    {
        var names = new List<string>();
        foreach (int k in ks)
        {
            names.Add(Metrics.HitRateName(k)); names.Add(Metrics.NdcgName(k)); names.Add(Metrics.RecallName(k));
            names.Add(Metrics.PrecisionName(k)); names.Add(Metrics.MapName(k));
        }
        names.Add(Metrics.MrrName); names.Add(Metrics.AucName);

        int ni = split.NumItems;
        var train = split.Train;
        var extra = target == EvalTarget.Test ? split.Validation : UserItems.Empty(split.NumUsers, ni);
        var users = new List<int>(); int skipped = 0, maxRel = 1;
        for (int u = 0; u < heldOut.NumUsers; u++)
        {
            int r = heldOut.CountOf(u);
            if (r == 0) continue;
            int nonRel = ni - train.CountOf(u) - extra.CountOf(u) - r;
            if (nonRel < 1) { skipped++; continue; }
            users.Add(u); maxRel = Math.Max(maxRel, r);
        }
        var evalUsers = users.ToArray();
        int nm = names.Count, nUsers = evalUsers.Length;
        var values = new double[nm][];
        for (int m = 0; m < nm; m++) values[m] = new double[nUsers];

        long rowsByBudget = options.MemoryBudgetBytes / (4L * Math.Max(1, ni));
        int rows = (int)Math.Clamp(rowsByBudget, 1, Math.Max(1, Math.Min(nUsers, Array.MaxLength / Math.Max(1, ni))));
        var buffer = new float[(long)rows * ni];
        var chunkUsers = new int[rows];

        for (int a = 0; a < nUsers; a += rows)
        {
            int b = Math.Min(nUsers, a + rows), count = b - a;
            Array.Copy(evalUsers, a, chunkUsers, 0, count);
            model.ScoreAllItems(chunkUsers.AsSpan(0, count), buffer.AsSpan(0, count * ni));
            int chunkStart = a;
            Par.For(chunkStart, b, options.Threads, () => new FullScratch(maxRel), (idx, scratch) =>
            {
                int u = evalUsers[idx];
                var row = new ReadOnlySpan<float>(buffer, (idx - chunkStart) * ni, ni);
                var rel = heldOut[u];
                int r = rel.Length;
                var positions = scratch.Positions.AsSpan(0, r);
                if (!Metrics.RelevantPositionsCore(row, rel, train[u], extra[u], positions, scratch.RelScores, scratch.Counts, out int nanItem))
                    throw NanError(model, split, u, nanItem, target);
                int nonRel = ni - train.CountOf(u) - extra.CountOf(u) - r;
                int col = 0;
                foreach (int k in ks)
                {
                    values[col++][idx] = Metrics.HitRate(positions, k);
                    values[col++][idx] = Metrics.Ndcg(positions, r, k);
                    values[col++][idx] = Metrics.Recall(positions, r, k);
                    values[col++][idx] = Metrics.Precision(positions, k);
                    values[col++][idx] = Metrics.AveragePrecision(positions, r, k);
                }
                values[col++][idx] = Metrics.ReciprocalRank(positions);
                values[col][idx] = Metrics.Auc(positions, nonRel);
            });
            progress?.Report((double)b / nUsers);
        }
        return Partial.From(model, target, CandidateMode.Full, names, evalUsers, values, skipped);
    }

    private sealed class FullScratch(int maxRelevant)
    {
        public readonly int[] Positions = new int[maxRelevant];
        public readonly float[] RelScores = new float[maxRelevant];
        public readonly int[] Counts = new int[maxRelevant + 1];
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static NonFiniteScoreException NanError(IRecommender model, Split split, int user, int item, EvalTarget target)
    {
        string uid = split.UserIds is { } um && user < um.Count ? $" (raw id {um[user]})" : "";
        string iid = split.ItemIds is { } im && item >= 0 && item < im.Count ? $" (raw id {im[item]})" : "";
        return new NonFiniteScoreException(
            $"Model '{model.Name}' returned a NaN score for user {user}{uid}, item {item}{iid} while evaluating {target}; " +
            "the model's parameters have probably diverged (check the learning rate and the loss).");
    }

    /// <summary>Result before timing is known.</summary>
    private sealed class Partial
    {
        public required EvaluationResult Result;

        public static Partial From(IRecommender model, EvalTarget target, CandidateMode mode, List<string> names,
            int[] users, double[][] values, int skipped)
        {
            var means = new Dictionary<string, double>(names.Count);
            var perUser = new Dictionary<string, double[]>(names.Count);
            for (int m = 0; m < names.Count; m++)
            {
                double sum = 0;
                foreach (double v in values[m]) sum += v;
                means[names[m]] = users.Length > 0 ? sum / users.Length : double.NaN;
                perUser[names[m]] = values[m];
            }
            return new Partial
            {
                Result = new EvaluationResult
                {
                    Target = target, Mode = mode, ModelName = model.Name, MetricNames = names.ToArray(),
                    Metrics = means, Users = users, PerUser = perUser, SkippedUsers = skipped,
                },
            };
        }

        public EvaluationResult WithSeconds(double seconds) => new()
        {
            Target = Result.Target, Mode = Result.Mode, ModelName = Result.ModelName, MetricNames = Result.MetricNames,
            Metrics = Result.Metrics, Users = Result.Users, PerUser = Result.PerUser, SkippedUsers = Result.SkippedUsers,
            Seconds = seconds,
        };
    }
}

/// <summary>A model returned a NaN score during evaluation: its parameters have diverged.</summary>
internal sealed class NonFiniteScoreException(string message) : InvalidOperationException(message);
