using Lrml.Models;
using Lrml.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Lrml.Tests.Models;

/// <summary>The torch model tests run one at a time: some set torch's global thread count, and the leak test
/// reads per-thread tensor statistics.</summary>
[CollectionDefinition("Torch models", DisableParallelization = true)]
public sealed class TorchModelsCollection { }

/// <summary>Batches, parameter pokes and finite differences shared by the model tests.</summary>
internal static class ModelTestSupport
{
    public static TrainingBatch Batch(int[] users, int[] positives, int[] negatives)
    {
        int k = negatives.Length / users.Length;
        Assert.Equal(users.Length * k, negatives.Length);
        var b = new TrainingBatch(users.Length, k) { Count = users.Length };
        users.CopyTo(b.Users, 0); positives.CopyTo(b.Positives, 0); negatives.CopyTo(b.Negatives, 0);
        return b;
    }

    /// <summary>A random batch over the given index spaces (seeded).</summary>
    public static TrainingBatch RandomBatch(Rng rng, int size, int k, int numUsers, int numItems)
    {
        var b = new TrainingBatch(size, k) { Count = size };
        for (int x = 0; x < size; x++) { b.Users[x] = rng.NextInt(numUsers); b.Positives[x] = rng.NextInt(numItems); }
        for (int x = 0; x < size * k; x++) b.Negatives[x] = rng.NextInt(numItems);
        return b;
    }

    public static double Get(Tensor t, long flat)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        return t.reshape(-1)[flat].to(ScalarType.Float64).item<double>();
    }

    public static void Set(Tensor t, long flat, double value)
    {
        using var scope = NewDisposeScope();
        using var ng = no_grad();
        t.view(-1).narrow(0, flat, 1).fill_(value);
    }

    /// <summary>Central finite differences of <paramref name="loss"/> w.r.t. every element of <paramref name="t"/>.</summary>
    public static double[] FiniteDifferences(Tensor t, Func<double> loss, double h = 1e-6)
    {
        long n = t.numel();
        var g = new double[n];
        for (long x = 0; x < n; x++)
        {
            double v = Get(t, x);
            Set(t, x, v + h); double up = loss();
            Set(t, x, v - h); double down = loss();
            Set(t, x, v);
            g[x] = (up - down) / (2 * h);
        }
        return g;
    }

    public static void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int x = 0; x < expected.Length; x++)
            Assert.True(Math.Abs(expected[x] - actual[x]) <= tol * Math.Max(1, Math.Abs(expected[x])),
                $"{what}[{x}]: expected {expected[x]:R}, got {actual[x]:R}");
    }

    public static double Norm(ReadOnlySpan<float> row)
    {
        double s = 0;
        foreach (var v in row) s += (double)v * v;
        return Math.Sqrt(s);
    }
}

/// <summary>LRML parameters as double arrays (row-major, shapes as in <see cref="LrmlParameters"/>).</summary>
internal sealed record HandWeights(int NumUsers, int NumItems, int Dim, int Slots, double[] P, double[] Q, double[] K, double[] M)
{
    public static HandWeights From(LrmlParameters w) => new(w.NumUsers, w.NumItems, w.Dim, w.Slots,
        w.P.Select(v => (double)v).ToArray(), w.Q.Select(v => (double)v).ToArray(),
        w.K.Select(v => (double)v).ToArray(), w.M.Select(v => (double)v).ToArray());
}

/// <summary>
/// LRML written out in plain double arithmetic straight from the formula sheet (src/Lrml/Models/Lrml/README.md, sections
/// "Forward pass" and "Loss") — loops, no torch, no model code — to check the TorchSharp model's forward pass and loss against.
/// </summary>
internal static class LrmlHand
{
    public static double[] Row(double[] table, int row, int d)
    {
        var v = new double[d];
        for (int j = 0; j < d; j++) v[j] = table[row * d + j];
        return v;
    }

    /// <summary>x·min(1, 1/‖x‖).</summary>
    public static double[] Clip(double[] x)
    {
        double n = Math.Sqrt(x.Sum(v => v * v));
        return n > 1 ? x.Select(v => v / n).ToArray() : (double[])x.Clone();
    }

    /// <summary>The model's parameters as it holds them after construction (Project mode projects every row).</summary>
    public static HandWeights AsConstructed(LrmlParameters w, LrmlConfig c)
    {
        var h = HandWeights.From(w);
        if (c.NormConstraint != NormConstraint.Project) return h;
        return h with { P = ProjectRows(h.P, w.NumUsers, w.Dim), Q = ProjectRows(h.Q, w.NumItems, w.Dim) };
    }

    private static double[] ProjectRows(double[] t, int rows, int d)
    {
        var o = new double[t.Length];
        for (int r = 0; r < rows; r++) Clip(Row(t, r, d)).CopyTo(o, r * d);
        return o;
    }

    public static double[] User(HandWeights w, LrmlConfig c, int u)
    {
        var p = Row(w.P, u, w.Dim);
        return c.NormConstraint == NormConstraint.Clip ? Clip(p) : p;
    }

    public static double[] Item(HandWeights w, LrmlConfig c, int i)
    {
        var q = Row(w.Q, i, w.Dim);
        return c.NormConstraint == NormConstraint.Clip ? Clip(q) : q;
    }

    /// <summary>a = softmax((p ⊙ q)·K), r = a·M with K d × N and M N × d.</summary>
    public static (double[] A, double[] R) Relation(HandWeights w, double[] p, double[] q)
    {
        int d = w.Dim, n = w.Slots;
        var logits = new double[n];
        for (int s = 0; s < n; s++)
            for (int j = 0; j < d; j++) logits[s] += p[j] * q[j] * w.K[j * n + s];
        double max = logits.Max();
        var a = logits.Select(z => Math.Exp(z - max)).ToArray();
        double sum = a.Sum();
        for (int s = 0; s < n; s++) a[s] /= sum;
        var r = new double[d];
        for (int j = 0; j < d; j++)
            for (int s = 0; s < n; s++) r[j] += a[s] * w.M[s * d + j];
        return (a, r);
    }

    public static double[] Residual(double[] p, double[] r, double[] q) => p.Select((v, j) => v + r[j] - q[j]).ToArray();

    public static double Distance(LrmlConfig c, double[] diff) => c.Distance switch
    {
        LrmlDistance.SqrtL2 => Math.Sqrt(diff.Sum(v => v * v) + c.DistanceEpsilon),
        LrmlDistance.SquaredL2 => diff.Sum(v => v * v),
        LrmlDistance.L1 => diff.Sum(Math.Abs),
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    public static double Score(HandWeights w, LrmlConfig c, int u, int i)
    {
        var p = User(w, c, u); var q = Item(w, c, i);
        return -Distance(c, Residual(p, Relation(w, p, q).R, q));
    }

    /// <summary>The hinge argument margin + D(u,i⁺) − D(u,i⁻) of every (positive, negative) pair, in batch order.</summary>
    public static double[] HingeArguments(HandWeights w, LrmlConfig c, TrainingBatch b)
    {
        int k = b.NegativesPerPositive;
        var args = new double[b.Count * k];
        for (int x = 0; x < b.Count; x++)
        {
            var p = User(w, c, b.Users[x]);
            var qp = Item(w, c, b.Positives[x]);
            var r = Relation(w, p, qp).R;
            double dPos = Distance(c, Residual(p, r, qp));
            for (int j = 0; j < k; j++)
            {
                var qn = Item(w, c, b.Negatives[x * k + j]);
                var rn = c.NegativeRelation == NegativeRelation.Reuse ? r : Relation(w, p, qn).R;
                double dNeg = Distance(c, Residual(p, rn, qn));
                args[x * k + j] = (double)c.Margin + dPos - dNeg;
            }
        }
        return args;
    }

    /// <summary>λ·½·Σθ² over whole P, Q (+K, M when trained) — or, for lazy Adam, over the touched rows of P, Q.</summary>
    public static double L2(HandWeights w, LrmlConfig c, TrainingBatch b)
    {
        if (c.L2 <= 0) return 0;
        double s = 0;
        if (c.Optimizer == OptimizerKind.LazyAdam)
        {
            int d = w.Dim, k = b.NegativesPerPositive;
            foreach (var u in b.Users.Take(b.Count).Distinct()) s += Row(w.P, u, d).Sum(v => v * v);
            foreach (var i in b.Positives.Take(b.Count).Concat(b.Negatives.Take(b.Count * k)).Distinct()) s += Row(w.Q, i, d).Sum(v => v * v);
        }
        else s += w.P.Sum(v => v * v) + w.Q.Sum(v => v * v);
        if (c.TrainMemory) s += w.K.Sum(v => v * v) + w.M.Sum(v => v * v);
        return 0.5 * c.L2 * s;
    }

    public static double Loss(HandWeights w, LrmlConfig c, TrainingBatch b) =>
        HingeArguments(w, c, b).Sum(a => Math.Max(0, a)) + L2(w, c, b);
}
