using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Reproduction.Plots;
using Plotly.NET;

namespace Lrml.Notebooks;

/// <summary>
/// One recommended item with its explanation: the attention of the pair (user, item) over the N memory slots, its dominant
/// slot, how many training pairs have that same dominant slot and which of the user's own training items do.
/// </summary>
/// <param name="Rank">1-based rank among the items the user did not train on.</param>
/// <param name="Item">Raw item id.</param>
/// <param name="Title">Title from the dataset's catalog (the raw id without one).</param>
/// <param name="Score">The model's score (higher first; −distance for LRML).</param>
/// <param name="HeldOut">"validation" or "test" when the item is the user's held-out item, else empty.</param>
/// <param name="Attention">The pair's attention over the slots (empty for a model without memory).</param>
/// <param name="DominantSlot">1-based slot of the largest attention (0 without memory).</param>
/// <param name="PairsSharingSlot">Training pairs (all users) whose dominant slot is the same.</param>
/// <param name="HistorySharingSlot">Titles of the user's training items whose pair has the same dominant slot.</param>
public sealed record RecommendedItem(int Rank, string Item, string Title, double Score, string HeldOut, IReadOnlyList<float> Attention,
    int DominantSlot, int PairsSharingSlot, IReadOnlyList<string> HistorySharingSlot);

/// <summary>
/// Top-k recommendations of a trained model for one user of a split, explained through LRML's memory (for a model that has
/// one, <see cref="IRelationalModel"/>), and the paired comparison of two models' per-user metrics. Scores come from the
/// model's own <see cref="IRecommender.ScoreAllItems"/>, attentions from <see cref="IRelationalModel.Explain"/>.
/// </summary>
public static class Recommendations
{
    /// <summary>The split index of a raw user id.</summary>
    public static int UserIndex(Split split, Interactions data, string rawUser)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(data);
        var ids = split.UserIds ?? data.Users;
        return ids.TryGetIndex(rawUser, out int u) && u < split.NumUsers ? u
            : throw new ArgumentException($"User '{rawUser}' is not in the {split.Dataset}/{split.Protocol} split.", nameof(rawUser));
    }

    /// <summary>The <paramref name="k"/> best-scored items the user did not train on, explained.</summary>
    public static IReadOnlyList<RecommendedItem> TopK(IRecommender model, Split split, Interactions data, string rawUser, int k = 10)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be ≥ 1.");
        int u = UserIndex(split, data, rawUser);
        var scores = new float[model.NumItems];
        model.ScoreAllItems([u], scores);
        var top = Enumerable.Range(0, model.NumItems).Where(i => !split.Train.Contains(u, i))
            .OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k).ToArray();
        string Raw(int item) => split.ItemIds?[item] ?? data.Items[item];
        string Title(int item) => data.Catalog?.TitleOf(Raw(item)) ?? Raw(item);
        string HeldOut(int item) => split.Validation.Contains(u, item) ? "validation" : split.Test.Contains(u, item) ? "test" : "";
        if (model is not IRelationalModel rel)
            return top.Select((i, r) => new RecommendedItem(r + 1, Raw(i), Title(i), scores[i], HeldOut(i), [], 0, 0, [])).ToList();

        int n = rel.Slots;
        var attention = Attention(rel, Enumerable.Repeat(u, top.Length).ToArray(), top);
        var (pairUsers, pairItems) = split.Train.ToPairs();
        var dominant = Dominant(Attention(rel, pairUsers, pairItems), n);
        var perSlot = new int[n];
        foreach (int s in dominant) perSlot[s]++;
        var result = new List<RecommendedItem>();
        for (int r = 0; r < top.Length; r++)
        {
            var a = attention.AsSpan(r * n, n).ToArray();
            int slot = Dominant(a, n)[0];
            var history = new List<string>();
            for (int p = split.Train.Offsets[u]; p < split.Train.Offsets[u + 1]; p++)   // ToPairs lists users in order
                if (dominant[p] == slot) history.Add(Title(pairItems[p]));
            result.Add(new RecommendedItem(r + 1, Raw(top[r]), Title(top[r]), scores[top[r]], HeldOut(top[r]), a, slot + 1, perSlot[slot], history));
        }
        return result;
    }

    private static float[] Attention(IRelationalModel model, int[] users, int[] items)
    {
        var a = new float[(long)users.Length * model.Slots];
        model.Explain(users, items, a, new float[(long)users.Length * model.Dim]);
        return a;
    }

    private static int[] Dominant(float[] attention, int slots)
    {
        var d = new int[attention.Length / slots];
        for (int p = 0; p < d.Length; p++)
        {
            var row = attention.AsSpan(p * slots, slots);
            int best = 0;
            for (int j = 1; j < slots; j++) if (row[j] > row[best]) best = j;
            d[p] = best;
        }
        return d;
    }

    /// <summary>The recommendations as a table: rank, title, score, held-out mark, dominant slot with its weight, the training
    /// pairs sharing it and the user's own training items among them (first <paramref name="historyShown"/>).</summary>
    public static HtmlTable Table(IReadOnlyList<RecommendedItem> items, string? caption = null, int historyShown = 3)
    {
        ArgumentNullException.ThrowIfNull(items);
        var t = new HtmlTable(["rank", "movie", "score", "held out", "dominant slot (a)", "training pairs with that slot", "your training movies with that slot"], caption);
        foreach (var r in items)
            t.AddRow(r.Rank, r.Title, r.Score, r.HeldOut,
                r.DominantSlot == 0 ? "" : $"{r.DominantSlot} ({HtmlTable.FormatDouble(r.Attention[r.DominantSlot - 1], 3)})",
                r.DominantSlot == 0 ? null : r.PairsSharingSlot,
                r.HistorySharingSlot.Count == 0 ? "" : $"{r.HistorySharingSlot.Count}: " + string.Join("; ", r.HistorySharingSlot.Take(historyShown)) +
                                                     (r.HistorySharingSlot.Count > historyShown ? "; …" : ""));
        t.Note = "Items the user trained on are excluded; 'held out' marks the user's validation or test movie. The dominant slot is the " +
                 "memory slot with the largest attention for the pair; pairs sharing it are translated mostly by the same row of M.";
        return t;
    }

    /// <summary>Heat map of the recommendations' attention over the slots (one row per recommended movie).</summary>
    public static GenericChart AttentionHeatmap(IReadOnlyList<RecommendedItem> items, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0 || items[0].Attention.Count == 0) throw new ArgumentException("These recommendations carry no attention (a model without memory).", nameof(items));
        int n = items[0].Attention.Count;
        return Charts.Heatmap(items.Select(r => (IReadOnlyList<double>)r.Attention.Select(v => (double)v).ToArray()).ToList(),
            items.Select(r => $"{r.Rank}. {Shorten(r.Title)}").ToList(), Enumerable.Range(1, n).Select(j => $"slot {j}").ToList(),
            title ?? "Attention of each recommended pair over the memory slots");
    }

    /// <summary>A p-value readable at any size: 4 decimals, or two significant digits below 10⁻⁴ (never a bare 0).</summary>
    private static string P(double p) => p >= 1e-4 || double.IsNaN(p) ? HtmlTable.FormatDouble(p, 4)
        : p == 0 ? "< 1e-300" : p.ToString("0.0e+0", System.Globalization.CultureInfo.InvariantCulture);

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..39] + "…";

    /// <summary>
    /// Paired comparison of two evaluations on the users both evaluated: per metric the means, the mean difference a − b, the
    /// paired Student t-test and the Wilcoxon signed-rank test (normal approximation), with two-sided p-values.
    /// </summary>
    public static HtmlTable Compare(EvaluationResult a, EvaluationResult b, params string[] metrics)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (metrics.Length == 0) metrics = a.MetricNames.Intersect(b.MetricNames).ToArray();
        var index = new Dictionary<int, int>();
        for (int k = 0; k < b.Users.Length; k++) index[b.Users[k]] = k;
        var pairs = a.Users.Select((u, k) => (A: k, B: index.TryGetValue(u, out int j) ? j : -1)).Where(p => p.B >= 0).ToArray();
        var t = new HtmlTable(["metric", "users", $"mean {a.ModelName}", $"mean {b.ModelName}", "mean difference", "t", "p (t-test)", "Wilcoxon z", "p (Wilcoxon)"],
            $"{a.ModelName} against {b.ModelName}, paired over users ({a.Mode} {a.Target.ToString().ToLowerInvariant()} evaluation)");
        foreach (var m in metrics)
        {
            if (!a.PerUser.TryGetValue(m, out var va) || !b.PerUser.TryGetValue(m, out var vb))
                throw new ArgumentException($"Metric '{m}' is not in both evaluations ({string.Join(", ", a.PerUser.Keys)} / {string.Join(", ", b.PerUser.Keys)}).", nameof(metrics));
            double[] x = pairs.Select(p => va[p.A]).ToArray(), y = pairs.Select(p => vb[p.B]).ToArray();
            var tt = Statistics.PairedTTest(x, y);
            var w = Statistics.WilcoxonSignedRank(x, y);
            t.AddRow(m, pairs.Length, x.Average(), y.Average(), tt.MeanDifference, tt.T, P(tt.PValue), w.Z, P(w.PValue));
        }
        t.Note = "A p-value below 0.05 says the per-user difference is unlikely to be zero; the Wilcoxon test does not assume normal " +
                 "differences (per-user HR and nDCG take few distinct values).";
        return t;
    }
}
