using Lrml.Models;

namespace Lrml.Tests.Fast;

/// <summary>
/// An independent, deliberately naive double-precision LRML written from the formula sheet
/// (src/Lrml/Models/Lrml/README.md, sections "Forward pass", "Loss" and "Step") with scalar loops: forward, loss and
/// a hand-derived backward pass. Used to check the fused engine (and itself against central finite differences).
/// </summary>
internal sealed class LrmlScalarReference
{
    public readonly LrmlConfig Cfg;
    public readonly int U, I, D, N;
    public double[] P, Q, K, M; // K is d × N, M is N × d (LrmlParameters layouts)

    public LrmlScalarReference(LrmlConfig cfg, LrmlParameters p)
    {
        Cfg = cfg; U = p.NumUsers; I = p.NumItems; D = p.Dim; N = p.Slots;
        P = p.P.Select(x => (double)x).ToArray(); Q = p.Q.Select(x => (double)x).ToArray();
        K = p.K.Select(x => (double)x).ToArray(); M = p.M.Select(x => (double)x).ToArray();
    }

    public sealed class Grad
    {
        public double Loss;
        public int ActiveHinges, Hinges;
        public double[] P = [], Q = [], K = [], M = [];
    }

    private double[] Row(double[] t, int r) => t.Skip(r * D).Take(D).ToArray();

    /// <summary>x / max(‖x‖, 1) under Clip; identity otherwise. Returns the norm.</summary>
    private double[] Clip(double[] x, out double norm)
    {
        norm = Math.Sqrt(x.Sum(v => v * v));
        if (Cfg.NormConstraint != NormConstraint.Clip || norm < 1) return (double[])x.Clone();
        double nn = norm;
        return x.Select(v => v / nn).ToArray();
    }

    private (double[] s, double[] a, double[] r) Attention(double[] p, double[] q)
    {
        var s = new double[D];
        for (int j = 0; j < D; j++) s[j] = p[j] * q[j];
        var l = new double[N];
        for (int n = 0; n < N; n++) for (int j = 0; j < D; j++) l[n] += s[j] * K[j * N + n];
        for (int n = 0; n < N; n++) l[n] /= Cfg.AttentionTemperature;   // a = softmax(s·K / τ)
        double mx = l.Max();
        var a = l.Select(v => Math.Exp(v - mx)).ToArray();
        double z = a.Sum();
        for (int n = 0; n < N; n++) a[n] /= z;
        var r = new double[D];
        for (int j = 0; j < D; j++) for (int n = 0; n < N; n++) r[j] += a[n] * M[n * D + j];
        return (s, a, r);
    }

    private double Dist(double[] diff) => Cfg.Distance switch
    {
        LrmlDistance.SqrtL2 => Math.Sqrt(diff.Sum(v => v * v) + Cfg.DistanceEpsilon),
        LrmlDistance.SquaredL2 => diff.Sum(v => v * v),
        _ => diff.Sum(Math.Abs),
    };

    private double[] DistGrad(double[] diff, double dist) => Cfg.Distance switch
    {
        LrmlDistance.SqrtL2 => diff.Select(v => v / dist).ToArray(),
        LrmlDistance.SquaredL2 => diff.Select(v => 2 * v).ToArray(),
        _ => diff.Select(v => (double)Math.Sign(v)).ToArray(),
    };

    /// <summary>Score −D(u, i), direct formula.</summary>
    public double Score(int u, int i)
    {
        var p = Clip(Row(P, u), out _); var q = Clip(Row(Q, i), out _);
        var (_, _, r) = Attention(p, q);
        var diff = new double[D];
        for (int j = 0; j < D; j++) diff[j] = p[j] + r[j] - q[j];
        return -Dist(diff);
    }

    /// <summary>Attention and relation of a pair.</summary>
    public (double[] a, double[] r) Explain(int u, int i)
    {
        var p = Clip(Row(P, u), out _); var q = Clip(Row(Q, i), out _);
        var (_, a, r) = Attention(p, q);
        return (a, r);
    }

    /// <summary>Loss of a batch; <paramref name="l2TouchedOnly"/> selects the LazyAdam L2 scope; <paramref name="weights"/> are
    /// per-positive hinge weights (WARP), null = 1.</summary>
    public double Loss(int[] users, int[] pos, int[] neg, int k, bool l2TouchedOnly, double[]? weights = null) =>
        LossAndGrad(users, pos, neg, k, l2TouchedOnly, false, weights).Loss;

    /// <summary>WARP weights from scratch: for positive b, M = #{j : (D(u,i⁺) − D(u,j)) + margin &gt; 0} over its U drawn
    /// negatives drawn[b·U + j] (the negative's relation as configured), w = log(1 + ⌊J·M/U⌋).</summary>
    public double[] WarpWeights(int[] users, int[] pos, int[] drawn, int u)
    {
        var w = new double[users.Length];
        for (int b = 0; b < users.Length; b++)
        {
            var ph = Clip(Row(P, users[b]), out _);
            var qp = Clip(Row(Q, pos[b]), out _);
            var (_, _, r) = Attention(ph, qp);
            double dPos = Dist(Enumerable.Range(0, D).Select(j => ph[j] + r[j] - qp[j]).ToArray());
            int m = 0;
            for (int j = 0; j < u; j++)
            {
                var qj = Clip(Row(Q, drawn[b * u + j]), out _);
                var rj = Cfg.NegativeRelation == NegativeRelation.Recompute ? Attention(ph, qj).r : r;
                double dj = Dist(Enumerable.Range(0, D).Select(x => ph[x] + rj[x] - qj[x]).ToArray());
                if (dPos - dj + Cfg.Margin > 0) m++;
            }
            w[b] = Math.Log(1.0 + Math.Floor((double)I * m / u));
        }
        return w;
    }

    public Grad LossAndGrad(int[] users, int[] pos, int[] neg, int k, bool l2TouchedOnly, bool withGrad = true, double[]? weights = null)
    {
        var g = new Grad { P = new double[P.Length], Q = new double[Q.Length], K = new double[K.Length], M = new double[M.Length] };
        bool train = Cfg.TrainMemory;
        for (int b = 0; b < users.Length; b++)
        {
            int u = users[b];
            var pRaw = Row(P, u);
            var ph = Clip(pRaw, out double pn);
            int[] its = new int[k + 1];
            its[0] = pos[b];
            for (int t = 1; t <= k; t++) its[t] = neg[b * k + t - 1];
            var qh = new double[k + 1][]; var qn = new double[k + 1];
            for (int t = 0; t <= k; t++) qh[t] = Clip(Row(Q, its[t]), out qn[t]);
            var att = new (double[] s, double[] a, double[] r)[k + 1];
            att[0] = Attention(ph, qh[0]);
            var diff = new double[k + 1][]; var dist = new double[k + 1];
            for (int t = 0; t <= k; t++)
            {
                if (t > 0) att[t] = Cfg.NegativeRelation == NegativeRelation.Recompute ? Attention(ph, qh[t]) : att[0];
                diff[t] = new double[D];
                for (int j = 0; j < D; j++) diff[t][j] = ph[j] + att[t].r[j] - qh[t][j];
                dist[t] = Dist(diff[t]);
            }
            var gD = new double[k + 1];
            double wb = weights?[b] ?? 1.0;
            for (int t = 1; t <= k; t++)
            {
                double h = Cfg.Margin + dist[0] - dist[t];
                g.Hinges++;
                if (h > 0) { g.Loss += wb * h; gD[0] += wb; gD[t] = -wb; g.ActiveHinges++; }
            }
            if (!withGrad) continue;
            var gph = new double[D];
            var gq = new double[k + 1][];
            var gr = new double[k + 1][];
            for (int t = 0; t <= k; t++)
            {
                var dg = DistGrad(diff[t], dist[t]);
                gq[t] = new double[D]; gr[t] = new double[D];
                for (int j = 0; j < D; j++)
                {
                    double v = gD[t] * dg[j];
                    gph[j] += v; gq[t][j] -= v; gr[t][j] += v;
                }
            }
            if (Cfg.NegativeRelation == NegativeRelation.Reuse)
                for (int t = 1; t <= k; t++) for (int j = 0; j < D; j++) { gr[0][j] += gr[t][j]; gr[t][j] = 0; }
            for (int t = 0; t <= k; t++)
            {
                if (t > 0 && Cfg.NegativeRelation == NegativeRelation.Reuse) continue;
                var (s, a, _) = att[t];
                var ga = new double[N];
                for (int n = 0; n < N; n++)
                    for (int j = 0; j < D; j++)
                    {
                        ga[n] += M[n * D + j] * gr[t][j];
                        if (train) g.M[n * D + j] += a[n] * gr[t][j];
                    }
                double dotag = 0;
                for (int n = 0; n < N; n++) dotag += a[n] * ga[n];
                var gs = new double[D];
                for (int n = 0; n < N; n++)
                {
                    double gl = a[n] * (ga[n] - dotag) / Cfg.AttentionTemperature;
                    for (int j = 0; j < D; j++)
                    {
                        gs[j] += gl * K[j * N + n];
                        if (train) g.K[j * N + n] += gl * s[j];
                    }
                }
                for (int j = 0; j < D; j++) { gph[j] += gs[j] * qh[t][j]; gq[t][j] += gs[j] * ph[j]; }
            }
            AddClipBack(g.P, u, pn, ph, gph);
            for (int t = 0; t <= k; t++) AddClipBack(g.Q, its[t], qn[t], qh[t], gq[t]);
        }
        double l2 = Cfg.L2;
        if (l2 > 0)
        {
            var tu = l2TouchedOnly ? users.Distinct().ToArray() : Enumerable.Range(0, U).ToArray();
            var ti = l2TouchedOnly ? pos.Concat(neg.Take(users.Length * k)).Distinct().ToArray() : Enumerable.Range(0, I).ToArray();
            foreach (int u in tu) for (int j = 0; j < D; j++) { double w = P[u * D + j]; g.Loss += 0.5 * l2 * w * w; g.P[u * D + j] += l2 * w; }
            foreach (int i in ti) for (int j = 0; j < D; j++) { double w = Q[i * D + j]; g.Loss += 0.5 * l2 * w * w; g.Q[i * D + j] += l2 * w; }
            if (train)
            {
                for (int x = 0; x < K.Length; x++) { g.Loss += 0.5 * l2 * K[x] * K[x]; g.K[x] += l2 * K[x]; }
                for (int x = 0; x < M.Length; x++) { g.Loss += 0.5 * l2 * M[x] * M[x]; g.M[x] += l2 * M[x]; }
            }
        }
        return g;
    }

    private void AddClipBack(double[] target, int row, double norm, double[] xh, double[] gh)
    {
        bool clipped = Cfg.NormConstraint == NormConstraint.Clip && norm >= 1;
        double c = 0;
        if (clipped) for (int j = 0; j < D; j++) c += xh[j] * gh[j];
        for (int j = 0; j < D; j++) target[row * D + j] += clipped ? (gh[j] - xh[j] * c) / norm : gh[j];
    }
}
