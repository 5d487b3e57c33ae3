using System.Globalization;
using Lrml.Models;
using Lrml.Reproduction.Plots;
using Plotly.NET;
using static TorchSharp.torch;

namespace Lrml.Notebooks;

/// <summary>One quantity of the LRML forward pass on a small batch: its name, formula, shape and values (row-major).</summary>
public sealed record WalkthroughQuantity(string Name, string Formula, int Rows, int Columns, float[] Values)
{
    /// <summary>"3 × 100", or "3" for one value per pair.</summary>
    public string Shape => Columns == 1 ? Rows.ToString(CultureInfo.InvariantCulture) : $"{Rows} × {Columns}";

    /// <summary>Row <paramref name="r"/> of the values.</summary>
    public ReadOnlySpan<float> Row(int r) => Values.AsSpan(r * Columns, Columns);
}

/// <summary>
/// The LRML method on a few (user, item, negative) triples, quantity by quantity, recomputed in TorchSharp from the model's
/// exported parameters (<see cref="LrmlModel.ExportParameters"/>) with the model's own options (norm clip, attention
/// temperature, distance, relation of the negative pair): p, q, s = p ⊙ q, the logits sK/τ, the attention a = softmax(sK/τ),
/// r = aM, the distance D(p + r, q), the negative's distance, the hinge terms max(0, margin + D⁺ − D⁻) and, by autograd,
/// the gradients of their sum that reach K and M. <see cref="Check"/> compares the recomputation with the model itself
/// (its <see cref="LrmlModel.ScorePairs"/> is −D, its <see cref="LrmlModel.Explain"/> gives a): a notebook that shows
/// these numbers shows the model's numbers. WARP rank weights and the L2 term are not part of the hinge shown.
/// </summary>
public sealed class LrmlWalkthrough
{
    private LrmlWalkthrough(LrmlModel model, int[] users, int[] items, int[] negatives, IReadOnlyList<WalkthroughQuantity> q,
        float[] modelScores, float[] modelAttention)
    {
        (Model, Users, Items, Negatives, Quantities, ModelScores, ModelAttention) = (model, users, items, negatives, q, modelScores, modelAttention);
    }

    /// <summary>The model walked through.</summary>
    public LrmlModel Model { get; }
    /// <summary>Users of the batch (split indices).</summary>
    public IReadOnlyList<int> Users { get; }
    /// <summary>Positive items of the batch.</summary>
    public IReadOnlyList<int> Items { get; }
    /// <summary>One sampled negative item per pair.</summary>
    public IReadOnlyList<int> Negatives { get; }
    /// <summary>Every quantity in the order of the method.</summary>
    public IReadOnlyList<WalkthroughQuantity> Quantities { get; }
    /// <summary>The model's own scores of the pairs (<see cref="LrmlModel.ScorePairs"/>, = −D).</summary>
    public IReadOnlyList<float> ModelScores { get; }
    /// <summary>The model's own attention of the pairs (<see cref="LrmlModel.Explain"/>), pairs × N.</summary>
    public IReadOnlyList<float> ModelAttention { get; }

    /// <summary>A quantity by name ("p", "q", "s", "logits", "a", "r", "D", "D_neg", "hinge", "dL/dK", "dL/dM").</summary>
    public WalkthroughQuantity this[string name] => Quantities.FirstOrDefault(x => x.Name == name)
        ?? throw new ArgumentException($"No quantity '{name}'. Known: {string.Join(", ", Quantities.Select(x => x.Name))}.", nameof(name));

    /// <summary>Σ_j a_j per pair (1 up to float rounding).</summary>
    public double[] AttentionSums() => Enumerable.Range(0, Users.Count).Select(b => this["a"].Row(b).ToArray().Sum(v => (double)v)).ToArray();

    /// <summary>Walks <paramref name="model"/> through the triples (users[b], items[b], negatives[b]).</summary>
    public static LrmlWalkthrough Compute(LrmlModel model, IReadOnlyList<int> users, IReadOnlyList<int> items, IReadOnlyList<int> negatives)
    {
        ArgumentNullException.ThrowIfNull(model);
        int b = users.Count;
        if (b == 0 || items.Count != b || negatives.Count != b)
            throw new ArgumentException($"Give as many items and negatives as users (got {b} users, {items.Count} items, {negatives.Count} negatives; at least one).");
        foreach (var (list, n, what) in new[] { (users, model.NumUsers, "user"), (items, model.NumItems, "item"), (negatives, model.NumItems, "negative") })
            foreach (int x in list)
                if (x < 0 || x >= n) throw new ArgumentOutOfRangeException(what, x, $"A {what} index must be in [0, {n}).");
        var cfg = model.Config;
        int d = model.Dim, slots = model.Slots;
        var prm = model.ExportParameters();
        var quantities = new List<WalkthroughQuantity>();
        using (var scope = NewDisposeScope())
        {
            Tensor Rows(float[] table, IReadOnlyList<int> idx) =>
                tensor(idx.SelectMany(i => table.AsSpan(i * d, d).ToArray()).ToArray(), [b, d]);
            Tensor Constrain(Tensor x) => cfg.NormConstraint == NormConstraint.Clip ? x / x.square().sum(-1, keepdim: true).clamp_min(1.0).sqrt() : x;
            var k = tensor(prm.K, [d, slots]).requires_grad_(true);
            var m = tensor(prm.M, [slots, d]).requires_grad_(true);
            var p = Constrain(Rows(prm.P, users));
            var q = Constrain(Rows(prm.Q, items));
            var qNeg = Constrain(Rows(prm.Q, negatives));
            (Tensor S, Tensor Logits, Tensor A, Tensor R) Relation(Tensor pu, Tensor qi)
            {
                var s = pu * qi;
                var logits = s.matmul(k);
                if (cfg.AttentionTemperature != 1f) logits = logits.div((double)cfg.AttentionTemperature);
                var a = logits.softmax(-1);
                return (s, logits, a, a.matmul(m));
            }
            Tensor Distance(Tensor diff) => cfg.Distance switch
            {
                LrmlDistance.SqrtL2 => diff.square().sum(-1).add((double)cfg.DistanceEpsilon).sqrt(),
                LrmlDistance.SquaredL2 => diff.square().sum(-1),
                _ => diff.abs().sum(-1),
            };
            var (sPos, logitsPos, aPos, rPos) = Relation(p, q);
            var dPos = Distance(p + rPos - q);
            var rNeg = cfg.NegativeRelation == NegativeRelation.Reuse ? rPos : Relation(p, qNeg).R;
            var dNeg = Distance(p + rNeg - qNeg);
            var hinge = (dPos - dNeg + (double)cfg.Margin).clamp_min(0.0);
            hinge.sum().backward();

            void Add(string name, string formula, Tensor t, int rows, int cols) =>
                quantities.Add(new WalkthroughQuantity(name, formula, rows, cols, t.detach().contiguous().data<float>().ToArray()));
            string clip = cfg.NormConstraint == NormConstraint.Clip ? " (clipped to ‖·‖ ≤ 1)" : "";
            string tau = cfg.AttentionTemperature != 1f ? $" / τ (τ = {cfg.AttentionTemperature.ToString(CultureInfo.InvariantCulture)})" : "";
            Add("p", "user embedding P[u]" + clip, p, b, d);
            Add("q", "item embedding Q[i]" + clip, q, b, d);
            Add("s", "s = p ⊙ q (joint embedding, the attention's key)", sPos, b, d);
            Add("logits", "s K" + tau, logitsPos, b, slots);
            Add("a", "a = softmax(s K" + tau + ") over the N slots", aPos, b, slots);
            Add("r", "r = a M (the relation vector)", rPos, b, d);
            Add("D", DistanceFormula(cfg, "p + r − q"), dPos, b, 1);
            Add("D_neg", DistanceFormula(cfg, "p + r' − q⁻") + (cfg.NegativeRelation == NegativeRelation.Reuse ? ", r' = r of the positive pair" : ", r' = r(u, i⁻)"), dNeg, b, 1);
            Add("hinge", $"max(0, margin + D − D_neg), margin = {cfg.Margin.ToString(CultureInfo.InvariantCulture)}", hinge, b, 1);
            Add("dL/dK", "∂(Σ hinge)/∂K by autograd", k.grad!, d, slots);
            Add("dL/dM", "∂(Σ hinge)/∂M by autograd", m.grad!, slots, d);
        }
        var scores = new float[b];
        model.ScorePairs(users.ToArray(), items.ToArray(), scores);
        var attention = new float[b * slots];
        model.Explain(users.ToArray(), items.ToArray(), attention, new float[b * d]);
        return new LrmlWalkthrough(model, users.ToArray(), items.ToArray(), negatives.ToArray(), quantities, scores, attention);
    }

    private static string DistanceFormula(LrmlConfig cfg, string arg) => cfg.Distance switch
    {
        LrmlDistance.SqrtL2 => $"D = √(‖{arg}‖² + {cfg.DistanceEpsilon.ToString(CultureInfo.InvariantCulture)})",
        LrmlDistance.SquaredL2 => $"D = ‖{arg}‖²",
        _ => $"D = ‖{arg}‖₁",
    };

    /// <summary>
    /// Checks the numbers shown: each pair's attention sums to 1 (within 1e-5), equals the model's own attention and the
    /// distance equals the model's score negated (within 1e-5 relative). Returns the table of checks; throws
    /// <see cref="InvalidOperationException"/> naming the first failure.
    /// </summary>
    public HtmlTable Check(double tolerance = 1e-5)
    {
        var t = new HtmlTable(["pair", "Σ a", "max |a − model's a|", "D", "−model score", "|D + score|"], "Checks against the model") { Decimals = 7 };
        var sums = AttentionSums();
        var a = this["a"];
        var dist = this["D"];
        for (int b = 0; b < Users.Count; b++)
        {
            double maxDiff = 0;
            for (int j = 0; j < a.Columns; j++) maxDiff = Math.Max(maxDiff, Math.Abs(a.Values[b * a.Columns + j] - ModelAttention[b * a.Columns + j]));
            double gap = Math.Abs(dist.Values[b] + ModelScores[b]);
            t.AddRow(b + 1, sums[b], maxDiff, (double)dist.Values[b], -(double)ModelScores[b], gap);
            if (Math.Abs(sums[b] - 1) > tolerance) throw new InvalidOperationException($"Pair {b + 1}: the attention sums to {sums[b]}, not 1.");
            if (maxDiff > tolerance) throw new InvalidOperationException($"Pair {b + 1}: the attention differs from the model's by {maxDiff}.");
            if (gap > tolerance * Math.Max(1, Math.Abs(dist.Values[b])))
                throw new InvalidOperationException($"Pair {b + 1}: D = {dist.Values[b]} but the model scores the pair {ModelScores[b]} (should be −D).");
        }
        t.Note = "Σ a = 1 for every pair, the attention equals the model's (Explain) and D equals its score negated (ScorePairs): the numbers above are the model's.";
        return t;
    }

    /// <summary>One row per quantity: name, formula, shape and the values (per pair, at most <paramref name="shown"/> per row, with the row's norm).</summary>
    public HtmlTable Table(int shown = 6)
    {
        var t = new HtmlTable(["quantity", "formula", "shape", "values (one line per row, first entries)"],
            $"LRML on {Users.Count} pairs (d = {Model.Dim}, N = {Model.Slots})");
        foreach (var x in Quantities)
        {
            var lines = new List<string>();
            if (x.Columns == 1) lines.Add(string.Join(", ", x.Values.Select(v => Fmt(v))));
            else
                for (int r = 0; r < Math.Min(x.Rows, 3); r++)
                {
                    var row = x.Row(r).ToArray();
                    string head = string.Join(", ", row.Take(shown).Select(v => Fmt(v)));
                    double norm = Math.Sqrt(row.Sum(v => (double)v * v));
                    lines.Add($"[{head}{(row.Length > shown ? ", …" : "")}]  ‖·‖ = {Fmt(norm)}");
                }
            if (x.Columns > 1 && x.Rows > 3) lines.Add($"… ({x.Rows} rows; ‖·‖ of the whole tensor = {Fmt(Math.Sqrt(x.Values.Sum(v => (double)v * v)))})");
            t.AddRow(x.Name, x.Formula, x.Shape, string.Join(" | ", lines));
        }
        t.Note = "Values are the model's parameters run through the formulas here (float32, TorchSharp); the gradients are those of Σ hinge over the batch.";
        return t;
    }

    /// <summary>Bar chart of the attention over the N slots, one bar series per pair (labelled with <paramref name="pairLabels"/> when given).</summary>
    public GenericChart AttentionChart(IReadOnlyList<string>? pairLabels = null)
    {
        var a = this["a"];
        var series = Enumerable.Range(0, a.Rows).Select(b => new BarSeries(pairLabels?[b] ?? $"pair {b + 1}",
            a.Row(b).ToArray().Select(v => (double)v).ToArray())).ToList();
        return Charts.Bars(Enumerable.Range(1, a.Columns).Select(j => $"slot {j}").ToList(), series, "attention a_j",
            "memory slot", $"Attention over the N = {a.Columns} memory slots (each pair's bars sum to 1)");
    }

    private static string Fmt(double v) => HtmlTable.FormatDouble(v, Math.Abs(v) < 1e-3 && v != 0 ? 8 : 5);
}
