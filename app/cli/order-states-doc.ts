import { orderStatesMarkdown } from "../models/order-states-doc";

process.stdout.write(orderStatesMarkdown());
