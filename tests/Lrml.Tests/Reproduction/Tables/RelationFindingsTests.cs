using Lrml.Analysis;
using Lrml.Reproduction;

namespace Lrml.Tests.Reproduction.Tables;

/// <summary>The sentence a relation probe prints says "above chance" only when the accuracy beats both the shuffled labels
/// and the majority class.</summary>
public class RelationFindingsTests
{
    private static KnnClassificationResult Probe(double accuracy, double majority, double shuffledMean, double shuffledStd) => new()
    {
        N = 1000, Classes = 5, ClassesPresent = 5, K = 10, Folds = 5, Metric = default, Accuracy = accuracy, MacroF1 = 0.2,
        MajorityRate = majority, MajorityClass = 3, ShuffledAccuracyMean = shuffledMean, ShuffledAccuracyStd = shuffledStd,
        ShuffledMacroF1Mean = 0.2, ShuffledMacroF1Std = 0.01, ZScore = (accuracy - shuffledMean) / shuffledStd, MacroF1ZScore = 0,
        PValue = 0.05, ShuffledAccuracies = [], Confusion = [], Predicted = [],
    };

    [Fact]
    public void BeatingShuffledLabelsButNotTheMajorityClassIsNotAboveChance()
    {
        // the case seen on ML-100K: 0.307 accuracy, z ≈ 9 against shuffles, but the majority class alone scores 0.336
        string s = Relations.ProbeSentence("star rating", "user", Probe(0.307, 0.336, 0.250, 0.006));
        Assert.Equal("star rating from r(u,i) (user-grouped folds): accuracy 0.307 vs 0.250 ± 0.006 with shuffled labels (z = 9.5) " +
                     "and 0.336 for always guessing the majority class; above shuffled labels but not above the majority class, so not above chance.", s);
        Assert.DoesNotContain("; above chance", s);
    }

    [Fact]
    public void BeatingBothIsAboveChance()
    {
        string s = Relations.ProbeSentence("genre", "item", Probe(0.50, 0.455, 0.30, 0.01));
        Assert.EndsWith("; above chance.", s);
    }

    [Fact]
    public void WithinTheShuffledSpreadIsNotAboveChance()
    {
        string s = Relations.ProbeSentence("time bucket", "none", Probe(0.36, 0.34, 0.35, 0.01));
        Assert.Contains("(random folds)", s);
        Assert.EndsWith("not distinguishable from shuffled labels, so not above chance.", s);
    }
}

/// <summary>The cost findings say "grows" or "falls" from the measured medians, never by assumption.</summary>
public class CostFindingsTests
{
    [Theory]
    [InlineData(1.0, 2.0, "grows")]
    [InlineData(1.57, 0.63, "falls")]
    [InlineData(1.0, 1.1, "stays within 20 %")]
    [InlineData(0.0, 1.0, "is not measured")]
    public void DirectionFollowsTheMeasurement(double from, double to, string expected) => Assert.Equal(expected, Dynamics.Direction(from, to));

    [Fact]
    public void AFasterEvaluationAtLargerDIsReportedAsFalling()
    {
        // the observed case: full-ranking evaluation 1.57 s at d = 25 and 0.63 s at d = 100
        var cost = new Lrml.Experiments.ResultTable("cost", "slots N", "dim d", "s/epoch", "full eval s", "state MB");
        cost.AddRow(("slots N", Dynamics.CostSlots), ("dim d", 25), ("s/epoch", 0.5), ("full eval s", 1.57), ("state MB", 1.0));
        cost.AddRow(("slots N", Dynamics.CostSlots), ("dim d", 100), ("s/epoch", 1.5), ("full eval s", 0.63), ("state MB", 4.0));
        var curves = new Lrml.Experiments.ResultTable("curves", "model", "epoch");
        string all = string.Join("\n", new DynamicsReport("ml-100k", curves, cost, "/tmp/x").Findings().Points);
        Assert.Contains("From d = 25 to 100 (slots N = 20): training time grows (0.50 → 1.50 s/epoch, × 3.0), full-ranking evaluation time falls (1.57 → 0.63 s)", all);
        Assert.Contains("state size grows", all);
        Assert.Contains("medians of 3 repeats", all);
    }
}

/// <summary>Notebook 00's findings are computed from the data present: the same sentence generator says "matches" for a
/// real copy and "differs" or "no ratings" when the copy lacks them.</summary>
public class DataFindingsTests
{
    [Fact]
    public void RealMl100k_MatchesTheOfficialFiguresAndItsRatingsAreDescribed()
    {
        string root = Lrml.Tests.Protocols.ProtocolTestData.DataRoot();
        if (!File.Exists(Path.Combine(root, "ml-100k", "u.data"))) Assert.Skip($"ml-100k not found under LRML_DATA_DIR ({root}).");
        var data = Lrml.Data.Datasets.Load("ml-100k", new Lrml.Data.DataDirectory(root));
        var split = Lrml.Protocols.LeaveLastOut.Build(data, new Lrml.Protocols.LeaveLastOutOptions { SampledNegatives = 99 }, seed: 7);
        var points = DataFindings.Compute([Lrml.Data.DatasetCard.From(data)], leaveLastOut: split).Points;
        Assert.Equal("**ml-100k**: 943 users, 1,682 items, 100,000 interactions (6.3 % dense) — matches the official figures; interactions per user: " +
                     "min 20, median 65, max 737; ratings on 5 levels (1–5), most often 4 (34 %); timestamps from 1997-09-20 to 1998-04-22.", points[0]);
        Assert.StartsWith("**Leave-last-out on ml-100k** holds out 943 validation and 943 test items", points[1]);
        Assert.EndsWith("keeps 98,114 training pairs, each held-out item ranked against 99 frozen sampled candidates.", points[1]);
        Assert.StartsWith("**User activity is heavy-tailed** in every dataset here", points[2]);
    }

    [Fact]
    public void ACopyWithoutRatingsOrTimestampsAndOtherCountsIsSaidToBeSo()
    {
        var d = new Lrml.Data.Interactions("ml-1m", [0, 0, 1], [0, 1, 1], null, null, new Lrml.Data.IdMap(["1", "2"]), new Lrml.Data.IdMap(["a", "b"]));
        string p = DataFindings.Compute([Lrml.Data.DatasetCard.From(d)]).Points[0];
        Assert.Contains("**differs from the official figures** (6,040 users, 3,706 items, 1,000,209 interactions)", p);
        Assert.Contains("**no ratings** in this copy", p);
        Assert.Contains("**no timestamps** in this copy", p);
        Assert.DoesNotContain("matches", p);
    }
}

/// <summary>Every ablation grid contains the preset's own value, so "best value" is never claimed over a grid that left
/// the preset out.</summary>
public class AblationGridTests
{
    private static readonly KeyValuePair<string, string>[] Preset = [new("dim", "100"), new("slots", "20"), new("margin", "0.25"), new("learning_rate", "0.001")];

    [Fact]
    public void TheQuickMarginGridGainsThePresetsMargin_InNumericOrder()
    {
        var margin = Ablations.For(Profile.Quick).Single(a => a.Name == "margin");
        Assert.DoesNotContain("0.25", margin.Values);   // the grid as written lacks it
        Assert.Equal(["0.1", "0.25", "0.5", "1.0"], Ablations.ValuesWithPreset(margin, Preset));
    }

    [Fact]
    public void AGridThatHoldsThePresetsValue_OrItsDefault_IsUnchanged()
    {
        var slots = Ablations.For(Profile.Quick).Single(a => a.Name == "slots");
        Assert.Equal(slots.Values, Ablations.ValuesWithPreset(slots, Preset));
        // distance is not in the preset: its default (sqrt-l2) is already in the grid
        var distance = Ablations.For(Profile.Quick).Single(a => a.Name == "distance");
        Assert.Equal(distance.Values, Ablations.ValuesWithPreset(distance, Preset));
    }

    [Fact]
    public void ACategoricalPresetValueIsAppended()
    {
        var norm = Ablations.For(Profile.Quick).Single(a => a.Name == "norm");
        var onlyProject = norm with { Values = ["project"] };
        var values = Ablations.ValuesWithPreset(onlyProject, [.. Preset, new("norm_constraint", "none")]);
        Assert.Equal(2, values.Count);
        Assert.Equal("project", values[0]);
        Assert.Equal("none", values[1], ignoreCase: true);
    }
}

public sealed class HeatmapSentenceTests
{
    [Fact]
    public void NearUniformAttentionIsSaidWithTheEntropyAndTheScaleOfTheColours()
    {
        string s = Lrml.Reproduction.Relations.HeatmapSentence(0.0002, 20, 0.9995);
        Assert.Contains("at most ±0.0002", s);
        Assert.Contains("entropy / ln N = 0.9995", s);
        Assert.Contains("the attention is near uniform", s);
        Assert.Contains("0.4 % of a slot's weight", s);       // 0.0002 / (1/20)
        Assert.DoesNotContain("stands out", s);
    }

    [Fact]
    public void AUsedMemoryIsNotCalledUniform()
    {
        string s = Lrml.Reproduction.Relations.HeatmapSentence(0.12, 10, 0.42);
        Assert.DoesNotContain("near uniform", s);
        Assert.Contains("the attention is not uniform", s);
    }
}
