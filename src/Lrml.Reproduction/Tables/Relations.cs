using System.Globalization;
using Lrml.Analysis;
using Lrml.Data;
using Lrml.Reproduction.Plots;
using Lrml.Models;
using Lrml.Protocols;
using Plotly.NET;

using Lrml.Experiments;

namespace Lrml.Reproduction;

/// <summary>Options of the relation analysis.</summary>
public sealed record RelationOptions
{
    public Profile Profile { get; init; } = Profile.Quick;
    /// <summary>Dataset (null: ml-100k when present, else synthetic). It needs ratings, timestamps and genres.</summary>
    public string? Dataset { get; init; }
    public int Threads { get; init; } = 2;
    /// <summary>Observed pairs used by the probes (null: 8,000 in quick, 30,000 in full).</summary>
    public int? ProbePairs { get; init; }
    /// <summary>Points in the 2-D projections (null: 1,000 in quick, 2,500 in full).</summary>
    public int? ProjectionPoints { get; init; }
    /// <summary>Time buckets (quantiles of the timestamp).</summary>
    public int TimeBins { get; init; } = 4;
    public long Seed { get; init; } = 1;
    /// <summary>LRML settings applied over the dataset's preset (e.g. a setting whose memory is used:
    /// attention_temperature=0.01, memory_learning_rate=5e-5); null or empty = the preset. Non-empty settings write under
    /// their own folder, so the preset's analysis is kept.</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? Settings { get; init; }
    /// <summary>Also write PNG copies of the charts when headless Chromium is installed (the HTML is always written).</summary>
    public bool ChartImages { get; init; } = true;
}

/// <summary>Everything the relation analysis measured and drew.</summary>
public sealed class RelationReport
{
    public required string Dataset { get; init; }
    /// <summary>What the rating column means here ("star rating", or "planted relation type" on synthetic data).</summary>
    public required string RatingMeaning { get; init; }
    /// <summary>One row per claim and feature set: k-NN accuracy against chance and a shuffled-label baseline.</summary>
    public required ResultTable Probes { get; init; }
    /// <summary>Mutual information between the argmax memory slot and each label, against shuffled labels.</summary>
    public required ResultTable SlotAlignment { get; init; }
    /// <summary>Mean attention per slot for each rating (rows) — deviation from the overall mean.</summary>
    public required ResultTable AttentionByRating { get; init; }
    /// <summary>Mean attention per slot for each genre (single-genre items).</summary>
    public required ResultTable AttentionByGenre { get; init; }
    /// <summary>Named charts (projections coloured by rating, time, genre; heat maps).</summary>
    public required IReadOnlyList<(string Name, GenericChart Chart)> Charts { get; init; }
    /// <summary>The LRML run analysed.</summary>
    public required StoredRun Run { get; init; }
    public required string OutputDirectory { get; init; }
    /// <summary>A short, computed reading of the probes (which claims hold, by how much).</summary>
    public required IReadOnlyList<string> Findings { get; init; }
    /// <summary>Whether the analysed model's memory is used, measured on the probed pairs.</summary>
    public required MemoryUsage Usage { get; init; }

    /// <summary>A chart by name: pca-by-rating, pca-by-time, pca-by-genre, t-sne-by-rating, t-sne-by-time,
    /// t-sne-by-genre, attention-by-rating, attention-by-genre.</summary>
    public GenericChart Chart(string name) =>
        Charts.FirstOrDefault(c => c.Name == name).Chart
        ?? throw new ArgumentException($"No chart '{name}'. Charts: {string.Join(", ", Charts.Select(c => c.Name))}.");
}

/// <summary>
/// The paper's qualitative analysis, measured: train LRML (the dataset's preset), take observed training
/// pairs with their star rating, time and genre, compute r(u,i) and a(u,i), and (1) probe each label from r
/// and a with cross-validated k-NN against a shuffled-label baseline — rating and time with folds grouped by
/// user (so the probe cannot just recognise the user), genre with folds grouped by item (so it cannot just
/// recognise the item) — next to control features (the user and item embeddings); (2) measure how well the
/// argmax memory slot aligns with each label (mutual information vs shuffled); (3) draw PCA and t-SNE
/// projections of r coloured by rating, time and genre, and heat maps of mean attention per slot.
/// </summary>
public static class Relations
{    /// <summary>
    /// The finding of one k-NN probe of a label from r(u,i). "Above chance" needs both: an accuracy above the shuffled-label
    /// accuracies (z &gt; 3) and above the majority-class rate (always guessing the most common label); a probe that beats
    /// shuffled labels but not the majority class says so, since a k-NN vote over imbalanced labels can score below the
    /// majority rate and still above its own shuffles.
    /// </summary>
    internal static string ProbeSentence(string claim, string groupedBy, KnnClassificationResult r)
    {
        var ci = CultureInfo.InvariantCulture;
        string folds = groupedBy == "none" ? "random folds" : groupedBy + "-grouped folds";
        string numbers = string.Create(ci, $"accuracy {r.Accuracy:F3} vs {r.ShuffledAccuracyMean:F3} ± {r.ShuffledAccuracyStd:F3} with shuffled labels " +
                                           $"(z = {r.ZScore:F1}) and {r.MajorityRate:F3} for always guessing the majority class");
        bool beatsShuffles = r.ZScore > 3, beatsMajority = r.Accuracy > r.MajorityRate;
        string verdict = (beatsShuffles, beatsMajority) switch
        {
            (true, true) => "above chance",
            (true, false) => "above shuffled labels but not above the majority class, so not above chance",
            (false, true) => "not distinguishable from shuffled labels, so not above chance",
            _ => "not above chance",
        };
        return $"{claim} from r(u,i) ({folds}): {numbers}; {verdict}.";
    }


    public static string DefaultDataset(RelationOptions o, ExperimentContext context) =>
        o.Dataset is not null ? Datasets.Get(o.Dataset).Name
        : Datasets.Locate("ml-100k", context.Data) is not null ? "ml-100k" : "synthetic";

    public static RelationReport Run(RelationOptions options, ExperimentContext context)
    {
        string dataset = DefaultDataset(options, context);
        var data = Experiment.LoadDataset(dataset, context);
        if (data.Rating is null || data.Timestamp is null)
            throw new ArgumentException($"The relation analysis needs ratings and timestamps; {dataset} lacks them. Use ml-100k or synthetic.");
        bool quick = options.Profile.Name == "quick";
        int probePairs = options.ProbePairs ?? (quick ? 8_000 : 30_000);
        int projectionPoints = options.ProjectionPoints ?? (quick ? 1_000 : 2_500);
        string ratingMeaning = dataset == "synthetic" ? "planted relation type" : "star rating";
        string outDir = Path.Combine(context.ResultsRoot, "reproduce", "relations", options.Profile.Name, dataset);
        var extra = options.Settings ?? [];
        if (extra.Count > 0) outDir = Path.Combine(outDir, SettingsFolder(extra));

        // 1. Train (or reuse) LRML and reload its best state.
        var preset = Presets.Get("lrml", dataset);
        if (extra.Count > 0)
        {
            var keys = extra.Select(kv => ConfigBinder.Normalise(kv.Key)).ToHashSet();
            preset = preset with { Settings = preset.Settings.Where(kv => !keys.Contains(ConfigBinder.Normalise(kv.Key))).Concat(extra).ToList() };
        }
        var spec = Presets.Spec(preset, options.Profile, options.Seed, options.Threads);
        var run = RunStore.RunOrLoad(spec, context, Path.Combine(outDir, "run"));
        var split = Experiment.GetSplit(dataset, spec.Protocol, spec.SplitSeed, spec.SampledNegativesFor(run.Result.Protocol), context);
        var built = ModelRegistry.Build("lrml", new ModelBuildContext
        {
            NumUsers = split.NumUsers, NumItems = split.NumItems, Train = split.Train, Seed = spec.Train.Seed,
            Threads = options.Threads, Settings = spec.Settings, Engine = spec.Engine,
        });
        using var model = built.Model;
        string ckpt = Path.Combine(run.Directory, "best.ckpt");
        if (!File.Exists(ckpt)) throw new IOException($"The LRML run in '{run.Directory}' has no best.ckpt to analyse; delete the directory to retrain.");
        ((ITrainableRecommender)model).LoadState(File.ReadAllBytes(ckpt));
        var relational = (IRelationalModel)model;

        // 2. Observed training pairs with their labels.
        var pairs = LabelledPairs(data, split);
        var pick = Subsample.Uniform(pairs.Count, Math.Min(probePairs, pairs.Count), options.Seed);
        int n = pick.Length;
        var users = new int[n]; var items = new int[n]; var rating = new double[n]; var time = new double[n];
        for (int k = 0; k < n; k++)
        {
            var p = pairs[pick[k]];
            users[k] = p.User; items[k] = p.Item; rating[k] = p.Rating; time[k] = p.Time;
        }
        int slots = relational.Slots, dim = relational.Dim;
        var attention = new float[n * slots];
        var relation = new float[n * dim];
        relational.Explain(users, items, attention, relation);
        var parameters = relational.ExportParameters();
        var userVec = Gather(parameters.P, users, dim);
        var itemVec = Gather(parameters.Q, items, dim);
        var usage = MemoryUsage.Measure(relational, users, items);

        // labels
        var ratingLevels = rating.Distinct().OrderBy(x => x).ToArray();
        var ratingLabel = rating.Select(r => Array.IndexOf(ratingLevels, r)).ToArray();
        var (timeLabel, timeEdges) = Binning.Quantile(time, options.TimeBins);
        var genreNames = data.Catalog?.GenreNames ?? [];
        var (genreOf, genreRows) = SingleGenre(data, items, genreNames);

        var userFolds = KnnSearch.GroupFolds(users, 5, options.Seed);
        var itemFolds = KnnSearch.GroupFolds(items, 5, options.Seed + 1);
        var knn = new KnnOptions { K = 10, Folds = 5, Shuffles = 20, Seed = options.Seed, Threads = options.Threads };

        var findings = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture,
                $"The analysed model's memory on these {n:N0} pairs: attention entropy / ln N = {usage.EntropyRatio:0.0000}, mean max attention " +
                $"{usage.MaxAttention:0.000} (uniform: {1.0 / slots:0.000}), ‖r‖ {usage.RelationNorm:0.000} against ‖p − q‖ {usage.UserItemDistance:0.000}, " +
                $"spread of r across pairs {usage.RelationSpread:0.0000} — ") +
            (usage.EntropyRatio < Ablations.UsedMemoryEntropyRatio
                ? "the memory is used: r(u,i) differs between pairs through the attention."
                : "the memory is **not used**: the attention is (near) uniform, r(u,i) is one translation plus a small pair-dependent part, and the probes of r measure that part."),
        };
        var probes = new ResultTable($"Does r(u,i) encode {ratingMeaning}, time and genre? k-NN probes on {dataset} (k=10, 5-fold, 20 label shuffles)",
            "claim", "features", "folds grouped by", "n", "classes", "accuracy", "chance (majority)", "shuffled mean", "shuffled std", "z", "p", "macro-F1");
        foreach (var c in new[] { "accuracy", "chance (majority)", "shuffled mean", "shuffled std", "macro-F1" }) probes.Format(c, "F3");
        probes.Format("z", "F1").Format("p", "G3");
        void Probe(string claim, string features, float[] x, int d, int[] labels, int classes, int[] folds, string groupedBy, int[]? rows = null)
        {
            float[] xs = x; int[] ls = labels; int[] fs = folds; int m = labels.Length;
            if (rows is not null)
            {
                m = rows.Length;
                xs = Subsample.Rows(x, d, rows); ls = rows.Select(r => labels[r]).ToArray(); fs = rows.Select(r => folds[r]).ToArray();
            }
            var r = KnnProbe.Classify(xs, m, d, ls, classes, fs, knn);
            probes.AddRow(("claim", claim), ("features", features), ("folds grouped by", groupedBy), ("n", m), ("classes", r.ClassesPresent),
                ("accuracy", r.Accuracy), ("chance (majority)", r.MajorityRate), ("shuffled mean", r.ShuffledAccuracyMean),
                ("shuffled std", r.ShuffledAccuracyStd), ("z", r.ZScore), ("p", r.PValue), ("macro-F1", r.MacroF1));
            if (features.StartsWith("relation r", StringComparison.Ordinal)) findings.Add(ProbeSentence(claim, groupedBy, r));
        }
        string ratingClaim = ratingMeaning;
        Probe(ratingClaim, "relation r(u,i)", relation, dim, ratingLabel, ratingLevels.Length, userFolds, "user");
        Probe(ratingClaim, "attention a(u,i)", attention, slots, ratingLabel, ratingLevels.Length, userFolds, "user");
        Probe(ratingClaim, "item embedding q_i (control)", itemVec, dim, ratingLabel, ratingLevels.Length, userFolds, "user");
        Probe(ratingClaim, "relation r(u,i), random folds", relation, dim, ratingLabel, ratingLevels.Length,
            KnnSearch.StratifiedFolds(ratingLabel, ratingLevels.Length, 5, options.Seed), "none");
        Probe("time bucket", "relation r(u,i)", relation, dim, timeLabel, options.TimeBins, userFolds, "user");
        Probe("time bucket", "attention a(u,i)", attention, slots, timeLabel, options.TimeBins, userFolds, "user");
        Probe("time bucket", "item embedding q_i (control)", itemVec, dim, timeLabel, options.TimeBins, userFolds, "user");
        if (genreRows.Length >= 50)
        {
            Probe("genre", "relation r(u,i)", relation, dim, genreOf, genreNames.Count, itemFolds, "item", genreRows);
            Probe("genre", "attention a(u,i)", attention, slots, genreOf, genreNames.Count, itemFolds, "item", genreRows);
            Probe("genre", "item embedding q_i (control)", itemVec, dim, genreOf, genreNames.Count, itemFolds, "item", genreRows);
            Probe("genre", "user embedding p_u (control)", userVec, dim, genreOf, genreNames.Count, itemFolds, "item", genreRows);
        }
        // r versus the control feature of the same claim (same folds): does r carry the label beyond an embedding?
        for (int row = 0; row < probes.Rows.Count; row++)
        {
            if (!probes.Text(row, "features").Contains("(control)", StringComparison.Ordinal)) continue;
            string claim = probes.Text(row, "claim");
            int rRow = Enumerable.Range(0, probes.Rows.Count).First(r2 => probes.Text(r2, "claim") == claim && probes.Text(r2, "features") == "relation r(u,i)");
            double accR = Convert.ToDouble(probes.Get(rRow, "accuracy"), CultureInfo.InvariantCulture);
            double accC = Convert.ToDouble(probes.Get(row, "accuracy"), CultureInfo.InvariantCulture);
            findings.Add(FormattableString.Invariant(
                $"{claim}: r(u,i) {accR:F3} vs the {probes.Text(row, "features").Replace(" (control)", "")} control {accC:F3} — ") +
                (accR > accC ? "r carries more of this label than the plain embedding." : "the plain embedding carries at least as much of this label, so r's signal may be inherited from it."));
        }
        probes.Notes.Add("Rating and time folds keep each user's pairs together (the probe cannot recognise the user); genre folds keep each item's pairs " +
                         "together (it cannot recognise the item). The random-fold rating row shows how much user identity alone adds. " +
                         "Control rows probe the same label from a plain embedding: r encodes a label beyond the embeddings only if it beats them.");

        // 3. Slot alignment (mutual information of argmax slot with each label).
        var align = new ResultTable($"Does the attended memory slot align with the label? argmax a(u,i) vs label on {dataset}",
            "label", "n", "MI (nats)", "normalised MI", "shuffled MI", "z", "p");
        align.Format("MI (nats)", "F4").Format("normalised MI", "F4").Format("shuffled MI", "F4").Format("z", "F1").Format("p", "G3");
        void Align(string label, int[] labels, int classes, int[]? rows = null)
        {
            float[] a = attention; int m = n; int[] ls = labels;
            if (rows is not null) { a = Subsample.Rows(attention, slots, rows); m = rows.Length; ls = rows.Select(r => labels[r]).ToArray(); }
            var mi = LabelMeans.ArgmaxMutualInformation(a, m, slots, ls, classes, 100, options.Seed);
            align.AddRow(("label", label), ("n", m), ("MI (nats)", mi.MutualInformation), ("normalised MI", mi.Normalized),
                ("shuffled MI", mi.ShuffledMean), ("z", mi.ZScore), ("p", mi.PValue));
        }
        Align(ratingMeaning, ratingLabel, ratingLevels.Length);
        Align("time bucket", timeLabel, options.TimeBins);
        if (genreRows.Length >= 50) Align("genre", genreOf, genreNames.Count, genreRows);

        // 4. Mean attention per slot by rating and by genre (deviation from the overall mean, for contrast).
        var slotNames = Enumerable.Range(0, slots).Select(s => $"slot {s}").ToArray();
        var byRating = MeanTable($"Mean attention per slot by {ratingMeaning} (minus the overall mean)", attention, n, slots, ratingLabel,
            ratingLevels.Select(r => r.ToString("0.#", CultureInfo.InvariantCulture)).ToArray(), slotNames, ratingMeaning);
        var genreLabelsPresent = genreRows.Length > 0 ? genreRows.Select(r => genreOf[r]).ToArray() : [];
        var byGenre = genreRows.Length > 0
            ? MeanTable("Mean attention per slot by genre (single-genre items; minus the overall mean)", Subsample.Rows(attention, slots, genreRows),
                genreRows.Length, slots, genreLabelsPresent, genreNames.ToArray(), slotNames, "genre")
            : new ResultTable("Mean attention per slot by genre: no single-genre items", "genre");

        // 5. Projections of r: PCA and t-SNE on a subsample, coloured by rating, time, genre.
        var charts = new List<(string, GenericChart)>();
        var proj = Subsample.Uniform(n, Math.Min(projectionPoints, n), options.Seed + 7);
        var rSub = Subsample.Rows(relation, dim, proj);
        var pca = Pca.FitTransform(rSub, proj.Length, dim, 2, options.Threads);
        var tsne = Tsne.Embed(rSub, proj.Length, dim, new TsneOptions { Seed = options.Seed, Threads = options.Threads, Iterations = quick ? 500 : 750 });
        string[] rLab = proj.Select(k => rating[k].ToString("0.#", CultureInfo.InvariantCulture)).ToArray();
        double[] tDays = proj.Select(k => (time[k] - time.Min()) / 86400.0).ToArray();
        string[] gLab = proj.Select(k => genreOf[k] >= 0 ? genreNames[genreOf[k]] : "several genres").ToArray();
        string[] hover = proj.Select(k => $"{data.Users[users[k]]} → {(data.Catalog?.TitleOf(data.Items[items[k]]) ?? data.Items[items[k]])}").ToArray();
        foreach (var (name, xy) in new[] { ("PCA", pca), ("t-SNE", tsne) })
        {
            var x = Enumerable.Range(0, proj.Length).Select(k => (double)xy[2 * k]).ToArray();
            var y = Enumerable.Range(0, proj.Length).Select(k => (double)xy[2 * k + 1]).ToArray();
            // legend order: ratings ascending; genres alphabetical with "several genres" last
            var byRatingOrder = Enumerable.Range(0, proj.Length).OrderBy(k => rating[proj[k]]).ToArray();
            var byGenreOrder = Enumerable.Range(0, proj.Length).OrderBy(k => gLab[k] == "several genres" ? "\uffff" : gLab[k], StringComparer.Ordinal).ToArray();
            charts.Add(($"{name.ToLowerInvariant()}-by-rating", Charts.Scatter2D(Pick(x, byRatingOrder), Pick(y, byRatingOrder), Pick(rLab, byRatingOrder),
                $"{name} of r(u,i), coloured by {ratingMeaning}", hoverText: Pick(hover, byRatingOrder))));
            charts.Add(($"{name.ToLowerInvariant()}-by-time", Charts.Scatter2D(x, y, tDays, "days since first", $"{name} of r(u,i), coloured by time", hoverText: hover)));
            charts.Add(($"{name.ToLowerInvariant()}-by-genre", Charts.Scatter2D(Pick(x, byGenreOrder), Pick(y, byGenreOrder), Pick(gLab, byGenreOrder),
                $"{name} of r(u,i), coloured by genre (single-genre items; grey: several genres)", hoverText: Pick(hover, byGenreOrder),
                backgroundLabel: "several genres")));
        }
        charts.Add(("attention-by-rating", Heat(byRating, $"Mean attention per slot by {ratingMeaning} (deviation)", usage.EntropyRatio)));
        if (genreRows.Length > 0) charts.Add(("attention-by-genre", Heat(byGenre, "Mean attention per slot by genre (deviation)", usage.EntropyRatio)));
        findings.Add(HeatmapSentence(MaxDeviation(byRating), slots, usage.EntropyRatio));

        Directory.CreateDirectory(outDir);
        probes.Save(outDir, "probes");
        align.Save(outDir, "slot-alignment");
        byRating.Save(outDir, "attention-by-rating");
        byGenre.Save(outDir, "attention-by-genre");
        foreach (var (name, chart) in charts)
        {
            Charts.SaveHtml(chart, Path.Combine(outDir, name + ".html"));
            if (options.ChartImages) Charts.TrySavePng(chart, Path.Combine(outDir, name + ".png"), out _);
        }
        return new RelationReport
        {
            Dataset = dataset, RatingMeaning = ratingMeaning, Probes = probes, SlotAlignment = align, AttentionByRating = byRating,
            AttentionByGenre = byGenre, Charts = charts, Run = run, OutputDirectory = outDir, Findings = findings, Usage = usage,
        };
    }

    /// <summary>
    /// The probes of two analyses side by side (e.g. the preset, whose memory is not used, and a setting whose memory is):
    /// one row per claim and feature set with each analysis's k-NN accuracy, its z against shuffled labels and the
    /// majority-class rate, plus each analysis's attention entropy / ln N in the notes.
    /// </summary>
    public static ResultTable CompareProbes(RelationReport first, string firstName, RelationReport second, string secondName)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var t = new ResultTable($"Relation probes on {first.Dataset}: {firstName} against {secondName}", "claim", "features", "chance (majority)",
            $"{firstName} accuracy", $"{firstName} z", $"{secondName} accuracy", $"{secondName} z");
        foreach (var c in new[] { "chance (majority)", $"{firstName} accuracy", $"{secondName} accuracy" }) t.Format(c, "F3");
        t.Format($"{firstName} z", "F1").Format($"{secondName} z", "F1");
        for (int r = 0; r < first.Probes.Rows.Count; r++)
        {
            string claim = first.Probes.Text(r, "claim"), features = first.Probes.Text(r, "features");
            int o = Enumerable.Range(0, second.Probes.Rows.Count)
                .FirstOrDefault(k => second.Probes.Text(k, "claim") == claim && second.Probes.Text(k, "features") == features, -1);
            double N(ResultTable p, int row, string c) => row < 0 ? double.NaN : Findings.Num(p, row, c);
            t.AddRow(("claim", claim), ("features", features), ("chance (majority)", N(first.Probes, r, "chance (majority)")),
                ($"{firstName} accuracy", N(first.Probes, r, "accuracy")), ($"{firstName} z", N(first.Probes, r, "z")),
                ($"{secondName} accuracy", N(second.Probes, o, "accuracy")), ($"{secondName} z", N(second.Probes, o, "z")));
        }
        t.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"Attention entropy / ln N on the probed pairs: {firstName} {first.Usage.EntropyRatio:0.0000}, {secondName} {second.Usage.EntropyRatio:0.0000} " +
            $"(1 = uniform; the memory counts as used below {Ablations.UsedMemoryEntropyRatio}). z = (accuracy − shuffled-label mean) / shuffled std."));
        return t;
    }

    /// <summary>The folder name of an analysis with extra settings: "key-value" pairs joined by '+', e.g.
    /// attention_temperature-0.01+memory_learning_rate-5e-5.</summary>
    public static string SettingsFolder(IReadOnlyList<KeyValuePair<string, string>> settings) =>
        string.Join("+", settings.Select(kv => $"{ConfigBinder.Normalise(kv.Key)}-{kv.Value.Trim()}"))
            .Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '+' or '.' or '_' ? ch : '_').Aggregate(new System.Text.StringBuilder(), (sb, ch) => sb.Append(ch)).ToString();

    private readonly record struct LabelledPair(int User, int Item, double Rating, double Time);

    /// <summary>The training pairs of the split with the rating and timestamp of their interaction.</summary>
    private static List<LabelledPair> LabelledPairs(Interactions data, Split split)
    {
        var list = new List<LabelledPair>(split.Train.Count);
        var seen = new HashSet<long>();
        for (int k = 0; k < data.Count; k++)
        {
            int u = data.User[k], i = data.Item[k];
            if (!split.Train.Contains(u, i)) continue;
            if (!seen.Add((long)u * data.NumItems + i)) continue; // first occurrence of a repeated pair
            list.Add(new LabelledPair(u, i, data.Rating![k], data.Timestamp![k]));
        }
        return list;
    }

    /// <summary>Genre index of each pair's item when the item has exactly one genre (else −1), and the rows that have one.</summary>
    private static (int[] GenreOf, int[] Rows) SingleGenre(Interactions data, int[] items, IReadOnlyList<string> genreNames)
    {
        var genreOf = new int[items.Length];
        var rows = new List<int>();
        for (int k = 0; k < items.Length; k++)
        {
            genreOf[k] = -1;
            if (data.Catalog is not null && data.Catalog.TryGet(data.Items[items[k]], out var info) && info.Genres.Count == 1)
            {
                int g = IndexOf(genreNames, info.Genres[0]);
                if (g >= 0) { genreOf[k] = g; rows.Add(k); }
            }
        }
        return (genreOf, rows.ToArray());
    }

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int k = 0; k < list.Count; k++) if (list[k] == value) return k;
        return -1;
    }

    private static float[] Gather(float[] table, int[] rows, int dim)
    {
        var x = new float[rows.Length * dim];
        for (int k = 0; k < rows.Length; k++) Array.Copy(table, (long)rows[k] * dim, x, (long)k * dim, dim);
        return x;
    }

    private static ResultTable MeanTable(string title, float[] values, int n, int dim, int[] labels, string[] labelNames, string[] columns, string labelColumn)
    {
        var means = LabelMeans.MeanByLabel(values, n, dim, labels, labelNames.Length);
        var t = new ResultTable(title, labelColumn, "pairs");
        foreach (var c in columns) t.AddColumn(c, "+0.0000;-0.0000");
        for (int c = 0; c < labelNames.Length; c++)
        {
            if (means.Counts[c] == 0) continue;
            var cells = new List<(string, object?)> { (labelColumn, labelNames[c]), ("pairs", means.Counts[c]) };
            for (int s = 0; s < dim; s++) cells.Add((columns[s], means.Means[c * dim + s] - means.OverallMean[s]));
            t.AddRow(cells.ToArray());
        }
        return t;
    }

    private static GenericChart Heat(ResultTable t, string title, double entropyRatio)
    {
        var slotCols = t.Columns.Skip(2).ToArray();
        var z = Enumerable.Range(0, t.Rows.Count)
            .Select(r => (IReadOnlyList<double>)slotCols.Select(c => Convert.ToDouble(t.Get(r, c), CultureInfo.InvariantCulture)).ToArray()).ToArray();
        var rows = Enumerable.Range(0, t.Rows.Count).Select(r => t.Text(r, t.Columns[0])).ToArray();
        string scale = string.Create(CultureInfo.InvariantCulture, $"; largest |deviation| {MaxDeviation(t):0.0000}, entropy / ln N {entropyRatio:0.0000}");
        return Charts.Heatmap(z, rows, slotCols, title + scale, "attention − mean", colorScale: "RdBu");
    }

    /// <summary>The largest |mean attention of a class − overall mean attention| over the slots of a heat-map table.</summary>
    private static double MaxDeviation(ResultTable t) =>
        Enumerable.Range(0, t.Rows.Count).SelectMany(r => t.Columns.Skip(2).Select(c => Math.Abs(Convert.ToDouble(t.Get(r, c), CultureInfo.InvariantCulture))))
            .DefaultIfEmpty(0).Max();

    /// <summary>
    /// What the attention heat maps can be read for: with a (near) uniform attention (entropy / ln N at or above
    /// <see cref="Ablations.UsedMemoryEntropyRatio"/>) their colours span deviations far below the uniform weight 1/N,
    /// and the sentence says so instead of letting a colour scale suggest structure.
    /// </summary>
    internal static string HeatmapSentence(double maxDeviation, int slots, double entropyRatio)
    {
        double uniform = 1.0 / slots;
        string scale = string.Create(CultureInfo.InvariantCulture,
            $"The attention heat maps colour deviations of at most ±{maxDeviation:0.0000} from the mean attention per slot (uniform weight 1/N = {uniform:0.000}, " +
            $"attention entropy / ln N = {entropyRatio:0.0000}): ");
        return entropyRatio >= Ablations.UsedMemoryEntropyRatio
            ? scale + string.Create(CultureInfo.InvariantCulture,
                $"the attention is near uniform, so these colours show differences of {100 * maxDeviation / uniform:0.##} % of a slot's weight, not slots that rating or genre select.")
            : scale + "the attention is not uniform, so a slot that stands out for a class is one that class's pairs select more often.";
    }

    private static T[] Pick<T>(IReadOnlyList<T> values, int[] order) => order.Select(k => values[k]).ToArray();
}
