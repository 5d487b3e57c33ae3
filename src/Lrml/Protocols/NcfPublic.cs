using System.Globalization;
using Lrml.Data;
using Lrml.Util;

namespace Lrml.Protocols;

/// <summary>
/// Rebuilds the public NCF split of MovieLens-1M (He et al., WWW 2017, files <c>Data/ml-1m.*</c>) from the
/// MovieLens-1M interactions and the published test files.
/// <list type="bullet">
/// <item>Index space: NCF user = UserID − 1 (UserIDs must be exactly 1..N); NCF item = 0-based order of first
/// appearance of the MovieID when scanning the interactions in file order (ratings.dat order). This is NCF's
/// numbering, which may differ from the input data's own indices; <see cref="Split.UserIds"/> and
/// <see cref="Split.ItemIds"/> map the split's indices back to raw ids.</item>
/// <item>Test: <c>ml-1m.test.rating</c> (each user's latest rating). Every test pair must be an interaction of
/// the data, and every user has exactly one test row: a second row for a user is an error naming its line, and a file
/// without some users (truncated, or not the published one) is an error rather than an evaluation of a subset.</item>
/// <item>Test negatives: <c>ml-1m.test.negative</c> (99 per line). In the published file 156 lines list their own
/// test positive among the negatives; those entries are dropped and counted
/// (note <c>ncf.duplicate_negatives_dropped</c>). Any other interacted item found among the negatives would also be
/// dropped and counted (<c>ncf.interacted_negatives_dropped</c>, 0 for the published file).</item>
/// <item>Train: all interactions minus the test pairs (994,169 pairs for ML-1M). When an original
/// <c>ml-1m.train.rating</c> is available it is read and must equal this rebuild exactly.</item>
/// <item>Validation (optional): one uniformly random training item per user (stream <c>"split/ncf-validation"</c>)
/// is moved from train to validation, with its own <see cref="SplitOptions.SampledNegatives"/> negatives drawn
/// by <see cref="CandidateSampler"/> (excluding the user's train, validation and test items). So with validation
/// Train.Count + Validation.Count equals the published train size.</item>
/// <item>The SHA-256 of every file read is recorded in the notes (<see cref="TestRatingChecksumNote"/>,
/// <see cref="TestNegativeChecksumNote"/>, <see cref="TrainRatingChecksumNote"/>), hence in every result.json.</item>
/// </list>
/// </summary>
public static class NcfPublic
{
    /// <summary>Protocol name stored in <see cref="Split.Protocol"/>.</summary>
    public const string ProtocolName = "ncf";

    /// <summary>Published file names inside the NCF directory.</summary>
    public const string TestRatingFile = "ml-1m.test.rating", TestNegativeFile = "ml-1m.test.negative", TrainRatingFile = "ml-1m.train.rating";

    /// <summary>Notes holding the SHA-256 of the files read.</summary>
    public const string TestRatingChecksumNote = "ncf.test_rating.sha256", TestNegativeChecksumNote = "ncf.test_negative.sha256",
        TrainRatingChecksumNote = "ncf.train_rating.sha256";

    /// <summary>The folder holding the published NCF test split of ML-1M under the data root (ml-1m/ncf), or null.</summary>
    public static string? Locate(DataDirectory dir)
    {
        string? folder = Datasets.Locate("ml-1m", dir);
        if (folder is null) return null;
        string ncf = Path.Combine(folder, "ncf");
        return File.Exists(Path.Combine(ncf, TestRatingFile)) ? ncf : null;
    }

    /// <summary>
    /// What happens to ML-1M without the published split, said so that nobody mistakes it for the paper's protocol:
    /// the default protocol becomes random leave-one-out, whose numbers are not comparable to the paper's.
    /// </summary>
    public static string MissingNote(DataDirectory dir) =>
        $"ML-1M without the published NCF test split ({Path.Combine("ml-1m", "ncf", TestRatingFile)} is not under {dir.Root}): " +
        "its default protocol is random leave-one-out, NOT the paper's split, so its numbers are not comparable to the " +
        $"paper's. {Datasets.FetchCommand(Datasets.NcfFetchTarget, dir)}";

    /// <summary>Rebuilds the split with default options.</summary>
    public static Split Build(Interactions data, string ncfDirectory, long seed) => Build(data, ncfDirectory, new NcfPublicOptions(), seed);

    /// <summary>
    /// Rebuilds the NCF split. <paramref name="data"/> must be MovieLens-1M in file order (all interactions, no
    /// filtering); <paramref name="ncfDirectory"/> holds <c>ml-1m.test.rating</c> and <c>ml-1m.test.negative</c>.
    /// </summary>
    public static Split Build(Interactions data, string ncfDirectory, NcfPublicOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(ncfDirectory);
        ArgumentNullException.ThrowIfNull(options);
        if (options.SampledNegatives < 0) throw new ArgumentOutOfRangeException(nameof(options), "SampledNegatives must be >= 0.");

        // 1. NCF index space.
        int nu = data.NumUsers;
        var userMap = new int[nu];
        var userRaw = new string[nu];
        for (int k = 0; k < nu; k++)
        {
            string raw = data.Users[k];
            if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id < 1 || id > nu)
                throw new ArgumentException($"NCF protocol expects MovieLens-1M UserIDs 1..{nu}; dataset '{data.Name}' has user id '{raw}'.", nameof(data));
            if (userRaw[id - 1] is not null) throw new ArgumentException($"User id '{raw}' appears twice in the user map.", nameof(data));
            userMap[k] = id - 1;
            userRaw[id - 1] = raw;
        }
        var itemMap = new int[data.NumItems];
        Array.Fill(itemMap, -1);
        var itemRaw = new List<string>();
        int n = data.Count;
        var us = new int[n]; var its = new int[n];
        for (int k = 0; k < n; k++)
        {
            int di = data.Item[k], du = data.User[k];
            if ((uint)du >= (uint)nu || (uint)di >= (uint)data.NumItems)
                throw new ArgumentException($"{data.Name}: interaction {k} has an index outside the id maps.", nameof(data));
            if (itemMap[di] < 0) { itemMap[di] = itemRaw.Count; itemRaw.Add(data.Items[di]); }
            us[k] = userMap[du]; its[k] = itemMap[di];
        }
        int ni = itemRaw.Count;
        var all = UserItems.FromPairs(nu, ni, us, its);

        // 2. Test pairs.
        string testPath = Path.Combine(ncfDirectory, TestRatingFile);
        var testFile = NcfFiles.ReadRatings(testPath, nu, ni);
        var testKey = new Dictionary<long, int>(testFile.Count);
        var testRowOfUser = new int[nu];
        Array.Fill(testRowOfUser, -1);
        for (int r = 0; r < testFile.Count; r++)
        {
            int u = testFile.Users[r], i = testFile.Items[r];
            if (!all.Contains(u, i))
                throw new DataFormatException(testPath, testFile.Lines[r], $"test pair (user {u}, item {i}) is not an interaction of '{data.Name}': the user never interacted with that item.");
            if (!testKey.TryAdd((long)u * ni + i, r))
                throw new DataFormatException(testPath, testFile.Lines[r], $"test pair (user {u}, item {i}) is listed twice.");
            if (testRowOfUser[u] >= 0)
                throw new DataFormatException(testPath, testFile.Lines[r],
                    $"user {u} has a second test row (the first is line {testFile.Lines[testRowOfUser[u]]}); the NCF split holds exactly one test item per user.");
            testRowOfUser[u] = r;
        }
        int missingUsers = testRowOfUser.Count(r => r < 0);
        if (missingUsers > 0)
            throw new DataFormatException(testPath, 0,
                $"{missingUsers:N0} of {nu:N0} users have no test row (the first is user {Array.IndexOf(testRowOfUser, -1)}); the NCF split holds one test " +
                "row per user, so the file is truncated or belongs to other data.");
        var test = UserItems.FromPairs(nu, ni, testFile.Users, testFile.Items);

        // 3. Published negatives.
        string negPath = Path.Combine(ncfDirectory, TestNegativeFile);
        var negFile = NcfFiles.ReadNegatives(negPath, nu, ni, options.ExpectedNegativesPerLine);
        var covered = new bool[testFile.Count];
        var negUsers = new List<int>(negFile.Negatives.Length); var negItems = new List<int>(negFile.Negatives.Length);
        int dupPositive = 0, interacted = 0;
        for (int r = 0; r < negFile.Count; r++)
        {
            int u = negFile.Users[r], i = negFile.Items[r];
            if (!testKey.TryGetValue((long)u * ni + i, out int tr))
                throw new DataFormatException(negPath, negFile.Lines[r], $"pair (user {u}, item {i}) is not a test pair of {TestRatingFile}.");
            if (covered[tr]) throw new DataFormatException(negPath, negFile.Lines[r], $"negatives for (user {u}, item {i}) are listed twice.");
            covered[tr] = true;
            var row = negFile.Negatives.AsSpan(r * negFile.PerLine, negFile.PerLine);
            foreach (int neg in row)
            {
                if (neg == i) { dupPositive++; continue; }
                if (all.Contains(u, neg)) { interacted++; continue; }
                negUsers.Add(u); negItems.Add(neg);
            }
        }
        for (int r = 0; r < covered.Length; r++)
            if (!covered[r])
                throw new DataFormatException(negPath, 0, $"no negatives line for test pair (user {testFile.Users[r]}, item {testFile.Items[r]}) of {TestRatingFile} line {testFile.Lines[r]}.");
        var testNegatives = UserItems.FromPairs(nu, ni, negUsers.ToArray(), negItems.ToArray());
        int repeated = negUsers.Count - testNegatives.Count;

        // 4. Train = all − test (optionally checked against the original train file).
        var trainFull = Difference(all, test);
        var notes = new Dictionary<string, string>
        {
            ["ncf.interactions"] = Str(all.Count),
            ["ncf.duplicate_interactions_merged"] = Str(n - all.Count),
            ["ncf.test_pairs"] = Str(test.Count),
            ["ncf.train_pairs_published"] = Str(trainFull.Count),
            ["ncf.test_negatives_published"] = Str(negFile.Negatives.Length),
            ["ncf.duplicate_negatives_dropped"] = Str(dupPositive),
            ["ncf.interacted_negatives_dropped"] = Str(interacted),
            ["ncf.repeated_negatives_merged"] = Str(repeated),
            ["ncf.test_negatives"] = Str(testNegatives.Count),
            [TestRatingChecksumNote] = testFile.Sha256,
            [TestNegativeChecksumNote] = negFile.Sha256,
        };
        string? trainPath = options.TrainFile ?? Path.Combine(ncfDirectory, TrainRatingFile);
        if (options.TrainFile is null && !DatasetFiles.Optional(trainPath)) trainPath = null;
        if (trainPath is not null)
        {
            var trainFile = NcfFiles.ReadRatings(trainPath, nu, ni);
            var fromFile = UserItems.FromPairs(nu, ni, trainFile.Users, trainFile.Items);
            if (!fromFile.SetEquals(trainFull))
                throw new DataFormatException(trainPath, 0, DescribeDifference(trainFull, fromFile));
            notes["ncf.train_source"] = $"{Path.GetFileName(trainPath)} (verified equal to interactions minus test pairs)";
            notes[TrainRatingChecksumNote] = trainFile.Sha256;
        }
        else notes["ncf.train_source"] = "rebuilt: interactions minus test pairs";

        // 5. Validation hold-out.
        var train = trainFull;
        var validation = UserItems.Empty(nu, ni);
        if (options.HoldOutValidation)
        {
            var rng = new Rng(seed, "split/ncf-validation");
            var vUsers = new List<int>(nu); var vItems = new List<int>(nu);
            int without = 0;
            for (int u = 0; u < nu; u++)
            {
                var row = trainFull[u];
                if (row.Length < 2) { if (row.Length > 0 || test.CountOf(u) > 0) without++; continue; }
                vUsers.Add(u); vItems.Add(row[rng.NextInt(row.Length)]);
            }
            validation = UserItems.FromPairs(nu, ni, vUsers.ToArray(), vItems.ToArray());
            train = Difference(trainFull, validation);
            notes["ncf.validation_users"] = Str(validation.Count);
            notes["ncf.users_without_validation"] = Str(without);
        }

        var split = new Split
        {
            Dataset = data.Name, Protocol = ProtocolName, Seed = seed,
            Train = train, Validation = validation, Test = test, TestNegatives = testNegatives,
            UserIds = new IdMap(userRaw), ItemIds = new IdMap(itemRaw), Notes = notes,
        };
        if (options.SampledNegatives > 0 && validation.Count > 0)
            split = CandidateSampler.WithSampledCandidates(split, options.SampledNegatives, seed); // keeps the published test negatives
        return split;
    }

    /// <summary>Pairs of <paramref name="a"/> not in <paramref name="b"/> (both ascending per user).</summary>
    internal static UserItems Difference(UserItems a, UserItems b)
    {
        var offsets = new int[a.NumUsers + 1];
        var items = new int[a.Count];
        int w = 0;
        for (int u = 0; u < a.NumUsers; u++)
        {
            offsets[u] = w;
            var ra = a[u]; var rb = b[u];
            int y = 0;
            foreach (int i in ra)
            {
                while (y < rb.Length && rb[y] < i) y++;
                if (y < rb.Length && rb[y] == i) continue;
                items[w++] = i;
            }
        }
        offsets[a.NumUsers] = w;
        return new UserItems(a.NumUsers, a.NumItems, offsets, w == items.Length ? items : items[..w]);
    }

    private static string DescribeDifference(UserItems expected, UserItems actual)
    {
        var missing = Difference(expected, actual); var extra = Difference(actual, expected);
        string first = "";
        var (mu, mi) = missing.ToPairs();
        if (mu.Length > 0) first = $" First missing pair: user {mu[0]}, item {mi[0]}.";
        else
        {
            var (eu, ei) = extra.ToPairs();
            if (eu.Length > 0) first = $" First extra pair: user {eu[0]}, item {ei[0]}.";
        }
        return $"the training file differs from the interactions minus the test pairs: {missing.Count:N0} expected pairs are missing, " +
               $"{extra.Count:N0} pairs are extra.{first}";
    }

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);
}
