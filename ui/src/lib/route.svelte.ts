// Where the user is: the cashier screen or one of the manager's pages, kept
// in the address's hash (`#/days`, `#/day/2026-11-25`, `#/operation/42`,
// `#/transactions`, `#/close`, `#/settings`), so a reload or the back button keeps the page.

export type Route =
  | { screen: "cashier" }
  | { screen: "days" }
  | { screen: "day"; day: string }
  | { screen: "transactions" }
  | { screen: "operation"; id: number }
  | { screen: "close" }
  | { screen: "settings" };

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The route a hash names; anything else is the cashier screen. */
export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  switch (parts[0]) {
    case "days":
      return { screen: "days" };
    case "day":
      return parts[1] && DAY.test(parts[1]) ? { screen: "day", day: parts[1] } : { screen: "days" };
    case "transactions":
      return { screen: "transactions" };
    case "operation": {
      const id = Number(parts[1]);
      return Number.isSafeInteger(id) && id > 0 ? { screen: "operation", id } : { screen: "transactions" };
    }
    case "close":
      return { screen: "close" };
    case "settings":
      return { screen: "settings" };
    default:
      return { screen: "cashier" };
  }
}

/** The hash of a route. */
export function href(route: Route): string {
  switch (route.screen) {
    case "cashier":
      return "#/";
    case "day":
      return `#/day/${route.day}`;
    case "operation":
      return `#/operation/${route.id}`;
    default:
      return `#/${route.screen}`;
  }
}

/** The current route, following the address. */
class Router {
  route = $state<Route>(parseHash(globalThis.location?.hash ?? ""));

  constructor() {
    globalThis.addEventListener?.("hashchange", () => {
      this.route = parseHash(globalThis.location.hash);
    });
  }

  go(route: Route): void {
    globalThis.location.hash = href(route);
    this.route = route;
  }
}

export const router = new Router();
