using Lrml.Experiments;
using Lrml.Reproduction;

namespace Lrml.Tests.Reproduction.Tables;

/// <summary>Issue 13 §3: the verdict sentence on the paper's claim, per dataset, says "holds" only when LRML is significantly
/// above the best metric-learning baseline on both metrics and no model is significantly above it; a significant loss says
/// "does not hold", and differences within noise say "is not decided" — never "holds".</summary>
public class VerdictTests
{
    private static ResultTable Headline(double hrRel, double hrP, double ndRel, double ndP)
    {
        var t = new ResultTable("h", "dataset", "metric", "LRML", "best baseline", "baseline", "relative improvement %", "paired t-test p", "mean per-user diff");
        t.AddRow(("dataset", "ml-1m"), ("metric", "HR@10"), ("best baseline", "CML"), ("relative improvement %", hrRel), ("paired t-test p", hrP));
        t.AddRow(("dataset", "ml-1m"), ("metric", "nDCG@10"), ("best baseline", "CML"), ("relative improvement %", ndRel), ("paired t-test p", ndP));
        return t;
    }

    private static ResultTable Significance(params (string Versus, double Diff, double P)[] rows)
    {
        var t = new ResultTable("s", "dataset", "versus", "users", "mean diff", "t", "t-test p", "Wilcoxon p");
        foreach (var (v, d, p) in rows) t.AddRow(("dataset", "ml-1m"), ("versus", v), ("mean diff", d), ("t-test p", p));
        return t;
    }

    [Fact]
    public void TheClaimHoldsOnlyWhenLrmlIsSignificantlyAboveTheBaselineOnBothMetricsAndNoModelIsAboveIt()
    {
        var v = MainTable.BuildVerdict(Headline(8.0, 0.001, 7.25, 0.002), Significance(("CML", 0.02, 0.001), ("BPR-MF", 0.01, 0.3)));
        Assert.Equal("holds", v.Text(0, "verdict"));
        Assert.Equal("CML", v.Text(0, "significantly below LRML"));
        Assert.Equal("above", v.Text(0, "LRML vs metric learning"));
        Assert.Equal("On ml-1m the paper's claim holds: LRML beats the best metric-learning baseline, CML (HR@10 +8.0 %, p = 0.001; " +
                     "nDCG@10 +7.25 %, p = 0.002); no model is significantly above LRML on nDCG@10.", v.Text(0, "sentence"));
    }

    [Fact]
    public void AModelSignificantlyAboveLrmlMeansTheClaimDoesNotHold()
    {
        var v = MainTable.BuildVerdict(Headline(2.8, 5e-8, 2.0, 1e-4), Significance(("CML", 0.01, 1e-4), ("BPR-MF", -0.03, 1e-5), ("NeuMF", -0.01, 0.4)));
        Assert.Equal("does not hold", v.Text(0, "verdict"));
        Assert.Equal("BPR-MF", v.Text(0, "significantly above LRML"));   // NeuMF's gap is within noise: not named
        // LRML beats the metric-learning baseline, yet the claim fails on the other part: both parts are said
        Assert.Equal("above", v.Text(0, "LRML vs metric learning"));
        Assert.Equal("On ml-1m the paper's claim does not hold: LRML beats the best metric-learning baseline, CML (HR@10 +2.8 %, p = 5E-08; " +
                     "nDCG@10 +2.0 %, p = 0.0001), but BPR-MF is significantly above LRML on nDCG@10.", v.Text(0, "sentence"));
        var two = MainTable.BuildVerdict(Headline(2.8, 5e-8, 2.0, 1e-4), Significance(("BPR-MF", -0.03, 1e-5), ("GMF", -0.02, 1e-3)));
        Assert.EndsWith(", but BPR-MF, GMF are significantly above LRML on nDCG@10.", two.Text(0, "sentence"));
        // the baseline itself significantly above LRML: does not hold either, and the sentence says LRML is below it
        var below = MainTable.BuildVerdict(Headline(-3, 0.01, -2, 0.02), Significance());
        Assert.Equal("does not hold", below.Text(0, "verdict"));
        Assert.Equal("below", below.Text(0, "LRML vs metric learning"));
        Assert.StartsWith("On ml-1m the paper's claim does not hold: LRML is significantly below the best metric-learning baseline, CML (HR@10 −3.0 %, p = 0.01; ", below.Text(0, "sentence"));
    }

    [Fact]
    public void DifferencesWithinNoiseAreNotDecidedNeverAClaimThatHolds()
    {
        var v = MainTable.BuildVerdict(Headline(2.0, 0.2, 1.5, 0.04), Significance(("CML", 0.004, 0.2)));
        Assert.Equal("not decided", v.Text(0, "verdict"));
        Assert.DoesNotContain("holds", v.Text(0, "sentence"));
        Assert.EndsWith("no model is significantly above LRML on nDCG@10 — the differences are within seed and user noise (paired t-test, 5 %).", v.Text(0, "sentence"));
        Assert.StartsWith("On ml-1m the paper's claim is not decided: LRML is within noise of the best metric-learning baseline, CML (", v.Text(0, "sentence"));
        Assert.Equal("within noise", v.Text(0, "LRML vs metric learning"));
        // no LRML on the dataset: no verdict row at all, and a note saying why
        var none = MainTable.BuildVerdict(new ResultTable("h", "dataset", "metric"), Significance());
        Assert.Empty(none.Rows);
        Assert.Contains("No verdict", Assert.Single(none.Notes));
    }
}
